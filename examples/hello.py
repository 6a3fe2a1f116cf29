# Runs in CPython 3.15 for WASI inside the sandbox: standard library, arguments, stdin.
import json
import statistics
import sys

data = [3, 1, 4, 1, 5, 9, 2, 6]
print("Hello from Python", sys.version.split()[0])
print(json.dumps({"args": sys.argv[1:], "median": statistics.median(data)}))
