;; Grows its memory 1 MiB at a time until refused, then traps as a failing allocator would:
;; the sandbox reports memory_limit (exit status 137) and the host is untouched.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $grow
      (if (i32.eq (memory.grow (i32.const 16)) (i32.const -1)) (then unreachable))
      (br $grow))))
