"""Web and AR pages: `maquette web` (a self-contained model-viewer folder) and
`maquette serve` (a loopback static server for it). Sits on top of asset, scene and
render, like the CLI; geometry in the stage's world frame (glTF: Y-up, metres)."""
