"use strict";
// placeholder: this page is being written
