;; Loops forever: the sandbox stops it at the deadline (status timed_out, exit status 124).
(module
  (memory (export "memory") 1)
  (func (export "_start") (loop $forever (br $forever))))
