// Evaluated once when the engine is pre-initialised. Receives the runner's host functions,
// installs console and timers, and returns the hooks the runner calls after the script.
(function (write, sleep, now) {
  "use strict";
  const breakLength = 80;
  const maxDepth = 2;
  const maxArrayItems = 100;
  const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

  // Node's mark for entries left out of a long array, Map or Set.
  const moreItems = (count) => `... ${count} more item${count > 1 ? "s" : ""}`;

  function quote(text) {
    const escaped = text.replace(/[\\'\n\r\t\b\f\v\0]/g, (c) => ({
      "\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t",
      "\b": "\\b", "\f": "\\f", "\v": "\\v", "\0": "\\0",
    })[c]);
    return "'" + escaped + "'";
  }

  function formatKey(key) {
    if (typeof key === "symbol") return "[" + key.toString() + "]";
    return identifier.test(key) ? key : quote(key);
  }

  function errorText(error) {
    const header = `${error.name}: ${error.message}`;
    const stack = typeof error.stack === "string" ? error.stack : "";
    if (stack.startsWith(error.name)) return stack.trimEnd();
    return stack ? header + "\n" + stack.trimEnd() : header;
  }

  // Node's util.inspect, in its essentials: nested objects to depth 2, cycles marked as
  // <ref *N> ... [Circular *N], long entries broken over lines.
  function inspect(value, depth, state, indent) {
    switch (typeof value) {
      case "string": return quote(value);
      case "number": return Object.is(value, -0) ? "-0" : String(value);
      case "bigint": return value + "n";
      case "symbol": return value.toString();
      case "undefined": return "undefined";
      case "boolean": return String(value);
      case "function": {
        const source = Function.prototype.toString.call(value);
        if (source.startsWith("class")) return `[class ${value.name || "(anonymous)"}]`;
        return value.name ? `[Function: ${value.name}]` : "[Function (anonymous)]";
      }
    }
    if (value === null) return "null";
    if (state.ancestors.includes(value)) {
      if (!state.refs.has(value)) state.refs.set(value, state.refs.size + 1);
      return `[Circular *${state.refs.get(value)}]`;
    }
    if (value instanceof Error) return errorText(value);
    if (value instanceof Date) return isNaN(value) ? "Invalid Date" : value.toISOString();
    if (value instanceof RegExp) return value.toString();
    if (value instanceof Promise) return "Promise { <unknown> }";
    if (value instanceof WeakMap || value instanceof WeakSet) {
      return `${value.constructor.name} { <items unknown> }`;
    }
    const isArray = Array.isArray(value);
    const typed = ArrayBuffer.isView(value) && !(value instanceof DataView);
    const proto = Object.getPrototypeOf(value);
    const name = proto === null ? "[Object: null prototype]" : (proto.constructor && proto.constructor.name) || "";
    if (depth > maxDepth) return isArray ? "[Array]" : `[${name || "Object"}]`;

    state.ancestors.push(value);
    const entries = [];
    let prefix = "";
    let open = "{", close = "}";
    if (isArray || typed) {
      open = "["; close = "]";
      if (typed || name !== "Array") prefix = `${name}(${value.length}) `;
      const shown = Math.min(value.length, maxArrayItems);
      for (let i = 0; i < shown; i++) {
        entries.push(i in value ? inspect(value[i], depth + 1, state, indent + "  ") : "<empty item>");
      }
      if (value.length > shown) entries.push(moreItems(value.length - shown));
    } else if (value instanceof Map) {
      prefix = `Map(${value.size}) `;
      for (const [k, v] of value) {
        if (entries.length === maxArrayItems) break;
        entries.push(`${inspect(k, depth + 1, state, indent + "  ")} => ${inspect(v, depth + 1, state, indent + "  ")}`);
      }
      if (value.size > entries.length) entries.push(moreItems(value.size - entries.length));
    } else if (value instanceof Set) {
      prefix = `Set(${value.size}) `;
      for (const v of value) {
        if (entries.length === maxArrayItems) break;
        entries.push(inspect(v, depth + 1, state, indent + "  "));
      }
      if (value.size > entries.length) entries.push(moreItems(value.size - entries.length));
    } else if (name !== "Object") {
      prefix = name ? name + " " : "";
    }
    if (!isArray && !typed) {
      for (const key of Reflect.ownKeys(value)) {
        const descriptor = Object.getOwnPropertyDescriptor(value, key);
        if (!descriptor.enumerable) continue;
        let shown;
        if (descriptor.get || descriptor.set) {
          shown = descriptor.get && descriptor.set ? "[Getter/Setter]" : descriptor.get ? "[Getter]" : "[Setter]";
        } else {
          shown = inspect(descriptor.value, depth + 1, state, indent + "  ");
        }
        entries.push(`${formatKey(key)}: ${shown}`);
      }
    }
    state.ancestors.pop();
    if (state.refs.has(value)) prefix = `<ref *${state.refs.get(value)}> ` + prefix;

    if (entries.length === 0) return prefix + open + close;
    const single = `${prefix}${open} ${entries.join(", ")} ${close}`;
    if (single.length + indent.length <= breakLength && !single.includes("\n")) return single;
    const inner = indent + "  ";
    return `${prefix}${open}\n${inner}${entries.join(",\n" + inner)}\n${indent}${close}`;
  }

  function show(value) {
    return inspect(value, 0, { ancestors: [], refs: new Map() }, "");
  }

  // console.log's arguments: format specifiers in a leading string, the rest inspected.
  function formatArguments(args) {
    let parts = [];
    let rest = args;
    if (typeof args[0] === "string" && args[0].includes("%") && args.length > 1) {
      let index = 1;
      const first = args[0].replace(/%[sdifjoOc%]/g, (spec) => {
        if (spec === "%%") return "%";
        if (index >= args.length) return spec;
        const arg = args[index++];
        switch (spec) {
          case "%s": return typeof arg === "string" ? arg : typeof arg === "object" && arg !== null ? show(arg) : String(arg);
          case "%d": return typeof arg === "bigint" ? arg + "n" : String(Number(arg));
          case "%i": return typeof arg === "bigint" ? arg + "n" : String(parseInt(arg));
          case "%f": return String(parseFloat(arg));
          case "%j": try { return JSON.stringify(arg); } catch { return "[Circular]"; }
          case "%c": return "";
          default: return show(arg);
        }
      });
      parts.push(first);
      rest = args.slice(index);
    } else if (typeof args[0] === "string") {
      parts.push(args[0]);
      rest = args.slice(1);
    }
    for (const arg of rest) parts.push(typeof arg === "string" ? arg : show(arg));
    return parts.join(" ") + "\n";
  }

  const counts = new Map();
  const timersStart = new Map();
  const console = {
    log: (...args) => write(1, formatArguments(args)),
    info: (...args) => write(1, formatArguments(args)),
    debug: (...args) => write(1, formatArguments(args)),
    warn: (...args) => write(2, formatArguments(args)),
    error: (...args) => write(2, formatArguments(args)),
    trace: (...args) => write(2, formatArguments(["Trace:", ...args]) ),
    assert: (condition, ...args) => {
      if (!condition) write(2, formatArguments(["Assertion failed" + (args.length ? ":" : ""), ...args]));
    },
    count: (label = "default") => {
      counts.set(label, (counts.get(label) || 0) + 1);
      write(1, `${label}: ${counts.get(label)}\n`);
    },
    time: (label = "default") => { timersStart.set(label, now()); },
    timeEnd: (label = "default") => {
      if (timersStart.has(label)) write(1, `${label}: ${(now() - timersStart.get(label)).toFixed(3)}ms\n`);
      timersStart.delete(label);
    },
  };
  Object.defineProperty(globalThis, "console", { value: console, writable: true, configurable: true });

  // Timers run after the promise job queue is empty, earliest first; waiting sleeps in WASI,
  // where the sandbox's deadline still applies.
  const timers = new Map();
  let nextTimer = 1;
  // Node's rule: a delay that is not a number from 1 to 2^31 - 1 ms becomes 1 ms, and one
  // too large for that says so, since the timer then fires at once instead of never.
  const maxDelay = 2147483647;
  function timerDelay(delay) {
    const ms = 1 * delay;
    if (ms >= 1 && ms <= maxDelay) return ms;
    if (ms > maxDelay) {
      write(2, `TimeoutOverflowWarning: ${ms} does not fit into a 32-bit signed integer.\nTimeout duration was set to 1.\n`);
    }
    return 1;
  }
  function schedule(callback, delay, args, interval) {
    if (typeof callback !== "function") throw new TypeError("the callback must be a function");
    const ms = timerDelay(delay);
    const id = nextTimer++;
    timers.set(id, { callback, args, due: now() + ms, interval: interval ? ms : -1 });
    return id;
  }
  const clear = (id) => { timers.delete(id); };
  globalThis.setTimeout = (callback, delay, ...args) => schedule(callback, delay, args, false);
  globalThis.setInterval = (callback, delay, ...args) => schedule(callback, delay, args, true);
  globalThis.clearTimeout = clear;
  globalThis.clearInterval = clear;
  if (typeof globalThis.queueMicrotask !== "function") {
    globalThis.queueMicrotask = (callback) => { Promise.resolve().then(callback); };
  }

  // Some built-ins recurse in C without touching the shadow stack that QuickJS measures, so
  // a deep enough input would exhaust Wasm's native stack (a trap) before QuickJS noticed.
  // Inputs deeper than this are refused with the RangeError deep JavaScript recursion gets.
  const maxNativeNesting = 10000;
  const tooDeep = () => new RangeError("Maximum call stack size exceeded");
  const nativeParse = JSON.parse;
  const brackets = /[[{]/g;
  function nestingDepth(text) {
    let depth = 0, deepest = 0, inString = false;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (inString) {
        if (c === 92) i++;  // backslash: skip the escaped character
        else if (c === 34) inString = false;
      } else if (c === 34) inString = true;
      else if (c === 91 || c === 123) { if (++depth > deepest) deepest = depth; }
      else if (c === 93 || c === 125) depth--;
    }
    return deepest;
  }
  Object.defineProperty(JSON, "parse", {
    value: function parse(text, reviver) {
      const source = String(text);
      // Counting brackets is native and fast; only text with enough of them is scanned.
      if (source.length > maxNativeNesting && (source.match(brackets)?.length ?? 0) > maxNativeNesting &&
          nestingDepth(source) > maxNativeNesting) throw tooDeep();
      return nativeParse(source, reviver);
    },
    writable: true, configurable: true,
  });
  const nativeFlat = Array.prototype.flat;
  Object.defineProperty(Array.prototype, "flat", {
    value: function flat(depth) {
      const levels = depth === undefined ? 1 : Math.trunc(Number(depth)) || 0;
      if (levels <= 1000) return nativeFlat.call(this, levels);
      // Deeper flattening in JavaScript, whose recursion QuickJS does check.
      const result = [];
      const visit = (array, left) => {
        for (let i = 0; i < array.length; i++) {
          if (!(i in array)) continue;
          if (left > 0 && Array.isArray(array[i])) visit(array[i], left - 1);
          else result.push(array[i]);
        }
      };
      visit(Object(this), levels);
      return result;
    },
    writable: true, configurable: true,
  });

  function runTimers() {
    if (timers.size === 0) return false;
    let id = -1, timer = null;
    for (const [candidate, entry] of timers) {
      if (timer === null || entry.due < timer.due) { id = candidate; timer = entry; }
    }
    const wait = timer.due - now();
    if (wait > 0) sleep(wait);
    if (timer.interval >= 0) timer.due = now() + Math.max(timer.interval, 1);
    else timers.delete(id);
    timer.callback(...timer.args);
    return true;
  }

  function reportError(error, prefix) {
    const text = error instanceof Error ? errorText(error) : "Uncaught " + show(error);
    write(2, prefix + text + "\n");
  }

  return { reportError, runTimers, show };
})
