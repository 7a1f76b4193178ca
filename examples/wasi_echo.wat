;; wasi_echo: a WASI command that reads its JSON input on stdin and writes {"echo": INPUT} on stdout,
;; with one log line on stderr. Exit code 0; an empty input is an error (exit code 1).
;;   faasctl run examples/wasi_echo.wat -d '{"name":"Ada"}'     -> {"echo": {"name": "Ada"}}
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  ;; 0..8 iovec, 8..12 nread/nwritten, 64.. constant strings, 4096.. the input
  (data (i32.const 64) "{\"echo\":")          ;; 8 bytes
  (data (i32.const 80) "}")                     ;; 1 byte
  (data (i32.const 96) "wasi_echo: read ")     ;; 16 bytes
  (data (i32.const 128) " bytes\n")             ;; 7 bytes
  (global $input i32 (i32.const 4096))

  ;; write(fd, ptr, len): one fd_write with a single iovec
  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))

  ;; read all of stdin at $input, growing memory as needed; returns the length
  (func $read_all (result i32)
    (local $len i32) (local $room i32)
    (loop $more
      (local.set $room (i32.sub (i32.mul (memory.size) (i32.const 65536))
                                (i32.add (global.get $input) (local.get $len))))
      (if (i32.lt_u (local.get $room) (i32.const 4096))
        (then
          (if (i32.lt_s (memory.grow (i32.const 1)) (i32.const 0))
            (then (unreachable)))
          (local.set $room (i32.add (local.get $room) (i32.const 65536)))))
      (i32.store (i32.const 0) (i32.add (global.get $input) (local.get $len)))
      (i32.store (i32.const 4) (local.get $room))
      (if (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8))
        (then (call $proc_exit (i32.const 2))))
      (if (i32.load (i32.const 8))
        (then
          (local.set $len (i32.add (local.get $len) (i32.load (i32.const 8))))
          (br $more))))
    (local.get $len))

  ;; decimal digits of $n written backwards ending at 63; returns the start
  (func $itoa (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (i32.const 63))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $digit (local.get $n)))
    (local.get $p))

  (func (export "_start")
    (local $len i32) (local $digits i32)
    (local.set $len (call $read_all))
    (local.set $digits (call $itoa (local.get $len)))
    (call $write (i32.const 2) (i32.const 96) (i32.const 16))
    (call $write (i32.const 2) (local.get $digits) (i32.sub (i32.const 63) (local.get $digits)))
    (call $write (i32.const 2) (i32.const 128) (i32.const 7))
    (if (i32.eqz (local.get $len)) (then (call $proc_exit (i32.const 1))))
    (call $write (i32.const 1) (i32.const 64) (i32.const 8))
    (call $write (i32.const 1) (global.get $input) (local.get $len))
    (call $write (i32.const 1) (i32.const 80) (i32.const 1))))
