/* Kindred console: the changes page (being written). */
"use strict";
