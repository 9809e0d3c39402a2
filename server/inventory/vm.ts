// The shared VM vocabulary lives in contract/vm.ts (server and client import it); this re-export
// keeps `inventory/vm.js` imports of code written before the move working.
export * from '../../contract/vm.js';
