'use strict'

module.exports = require('neostandard')({
  ts: true,
  ignores: ['dist/**', 'node_modules/**', 'bench/results/**', 'test/artifacts/**', '.tap/**', '.cache/**']
})
