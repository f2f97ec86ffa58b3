/* Kindred console: the segments page (being written). */
"use strict";
