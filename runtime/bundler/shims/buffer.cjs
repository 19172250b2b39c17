// require('buffer') / Buffer: the pure-JS implementation from the npm package `buffer`.
'use strict';
module.exports = require('buffer/');
