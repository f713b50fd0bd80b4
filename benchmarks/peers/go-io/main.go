// The Go peer for the I/O benchmarks: TCP echo and HTTP plaintext servers,
// one goroutine per connection (Go's model), and net/http's static-file
// server (sendfile through TCPConn.ReadFrom). GOMAXPROCS sets the workers.
//
//   weft-go-io echo|http PORT
//   weft-go-io static PORT ROOT
package main

import (
	"bufio"
	"fmt"
	"net"
	nethttp "net/http"
	"os"
	"strconv"
	"strings"
)

const response = "HTTP/1.1 200 OK\r\nServer: weft\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"

func echo(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 16384)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

// A hand-rolled HTTP/1.1 loop, as the C and Rust peers: read a request's
// header lines, answer, flush when no further request is buffered.
func http(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 8192)
	w := bufio.NewWriterSize(c, 8192)
	for {
		for {
			line, err := r.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 && strings.TrimSpace(string(line)) == "" {
				break
			}
		}
		w.WriteString(response)
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}

func main() {
	port, _ := strconv.Atoi(os.Args[2])
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("ready")
	if os.Args[1] == "static" {
		fmt.Fprintln(os.Stderr, nethttp.Serve(ln, nethttp.FileServer(nethttp.Dir(os.Args[3]))))
		os.Exit(1)
	}
	handler := echo
	if os.Args[1] == "http" {
		handler = http
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		go handler(c)
	}
}
