;; gcd: the numeric example of the openEuler WasmEngine, as a core export.
;;   faasctl run examples/gcd.wat --invoke gcd 6 27      -> 3
(module
  (func $gcd (export "gcd") (param $a i32) (param $b i32) (result i32)
    (local $t i32)
    ;; Euclid on unsigned values: while b != 0 { (a, b) = (b, a mod b) }
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $b)))
        (local.set $t (i32.rem_u (local.get $a) (local.get $b)))
        (local.set $a (local.get $b))
        (local.set $b (local.get $t))
        (br $next)))
    (local.get $a)))
