"use strict";
// Runs after every page script has registered its routes.
window.Nimbus.boot();
