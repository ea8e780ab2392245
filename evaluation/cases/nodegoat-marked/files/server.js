"use strict";

const express = require("express");
const consolidate = require("consolidate");
const marked = require("marked");

const app = express();

app.engine(".html", consolidate.swig);
app.set("view engine", "html");
app.set("views", `${__dirname}/app/views`);

// Initializing marked library
marked.setOptions({
    sanitize: true
});
app.locals.marked = marked;

app.listen(process.env.PORT || 4000);
