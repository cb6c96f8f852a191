// Maquette: model-viewer decodes EXT_meshopt_compression with the meshopt decoder bundled
// in model-viewer.min.js, but only once ModelViewerElement.meshoptDecoderLocation names a
// script, which it loads before using its own decoder. This empty same-origin script is
// that location, so a meshopt-compressed page needs no network (tests/test_web_browser.py).
