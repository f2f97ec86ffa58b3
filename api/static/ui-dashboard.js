/* Kindred console: the dashboard page (being written). */
"use strict";
