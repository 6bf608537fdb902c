// What the interop scripts (node-smsc.js, node-esme.js) share: their command-line flags.
'use strict';

const args = process.argv.slice(2);

module.exports = {
  // The value after flag `name`, or undefined.
  arg: (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  },
  // Whether flag `name` is present.
  flag: (name) => args.includes(name),
};
