;; echo_string: the string-ABI example of the openEuler WasmEngine.
;; The host writes the input at __heap_base and calls echo_string(ptr, len); the function appends
;; "b" in place and returns the span (ptr, len + 1), which the host reads back as UTF-8.
;;   faasctl run examples/echo_string.wat -d '"echo"'     -> echob   (a string input is passed as its text)
(module
  (memory (export "memory") 1)
  (global (export "__heap_base") i32 (i32.const 1024))
  (func (export "echo_string") (param $ptr i32) (param $len i32) (result i32 i32)
    ;; the host grew memory to fit the input; make room for one more byte if it is exactly full
    (if (i32.gt_u (i32.add (i32.add (local.get $ptr) (local.get $len)) (i32.const 1))
                  (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.const 1)))))
    (i32.store8 (i32.add (local.get $ptr) (local.get $len)) (i32.const 98)) ;; 'b'
    (local.get $ptr)
    (i32.add (local.get $len) (i32.const 1))))
