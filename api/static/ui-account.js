/* Kindred console: the account page (being written). */
"use strict";
