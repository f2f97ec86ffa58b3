/* Kindred console: the sources page (being written). */
"use strict";
