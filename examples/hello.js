// Runs in the sandbox's QuickJS engine: console output as Node shows it, promises, timers.
const greeting = { from: "the sandbox", languages: ["wat", "wasm", "javascript"] };
console.log("Hello", greeting);
await new Promise((resolve) => setTimeout(resolve, 10));
console.log("args:", scriptArgs);
