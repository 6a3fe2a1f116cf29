// A CPU-bound script: counts the primes below a bound (default 200000) by trial division.
const bound = Number(scriptArgs[0] ?? 200000);
let count = 0;
for (let n = 2; n < bound; n++) {
  let prime = true;
  for (let d = 2; d * d <= n; d++) {
    if (n % d === 0) { prime = false; break; }
  }
  if (prime) count++;
}
console.log(`${count} primes below ${bound}`);
