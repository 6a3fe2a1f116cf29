;; Counts forever: with --fuel it runs out of fuel (exit status 152), otherwise it times out.
(module
  (memory (export "memory") 1)
  (func (export "_start") (local $i i32)
    (loop $forever (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $forever))))
