// A client that behaves as httpfstream's own Go clients do (github.com/sourcegraph/httpfstream,
// client.go): no WebSocket subprotocol, the verb in an X-Verb header, appended data sent as text
// messages whatever its bytes, and a follower that takes a plain HTTP 200 body when the server
// answers one instead of upgrading. Written on gorilla/websocket, the maintained successor of
// the garyburd/go-websocket library httpfstream used, so that sluice is tested against an
// independent WebSocket implementation.
//
//	httpfstream-client append ws://host/path < data   exit 0 on close 1000, 3 on another close code
//	httpfstream-client follow ws://host/path > data    exit 0 at the end of the resource; like
//	                                                   theirs, reads at most 32 KiB of a message
package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"

	"github.com/gorilla/websocket"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

// closeCode waits for the server's close frame and exits with what it says.
func closeCode(conn *websocket.Conn) {
	for {
		if _, _, err := conn.NextReader(); err != nil {
			var closed *websocket.CloseError
			if errors.As(err, &closed) {
				fmt.Fprintf(os.Stderr, "closed %d %s\n", closed.Code, closed.Text)
				if closed.Code == websocket.CloseNormalClosure {
					os.Exit(0)
				}
				os.Exit(3)
			}
			fail("connection lost: %v", err)
		}
	}
}

func appendStdin(target string) {
	header := http.Header{"X-Verb": []string{"APPEND"}}
	conn, _, err := websocket.DefaultDialer.Dial(target, header)
	if err != nil {
		fail("cannot append: %v", err)
	}
	buf := make([]byte, 32*1024)
	for {
		n, readErr := os.Stdin.Read(buf)
		if n > 0 {
			w, err := conn.NextWriter(websocket.TextMessage)
			if err == nil {
				_, err = w.Write(buf[:n])
				if err == nil {
					err = w.Close()
				}
			}
			if err != nil {
				// The server has closed the session: say why.
				closeCode(conn)
			}
		}
		if readErr == io.EOF {
			break
		}
		if readErr != nil {
			fail("cannot read stdin: %v", readErr)
		}
	}
	_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	closeCode(conn)
}

func follow(target string) {
	header := http.Header{"X-Verb": []string{"FOLLOW"}}
	conn, resp, err := websocket.DefaultDialer.Dial(target, header)
	if errors.Is(err, websocket.ErrBadHandshake) && resp != nil && resp.StatusCode == http.StatusOK {
		n, err := io.Copy(os.Stdout, resp.Body)
		if err != nil {
			fail("cannot read the content: %v", err)
		}
		if length, _ := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64); length != n {
			fail("got %d bytes of a %d-byte content (gorilla keeps the first 1024)", n, length)
		}
		return
	}
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		fail("cannot follow: %v (HTTP %d)", err, status)
	}
	// httpfstream's webSocketReadCloser under io.Copy: every Read(p), with a 32 KiB p, takes the
	// next message and reads at most len(p) bytes of it; the rest of that message is dropped.
	p := make([]byte, 32*1024)
	for {
		op, r, err := conn.NextReader()
		if err != nil {
			if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				return
			}
			fail("follow ended: %v", err)
		}
		if op != websocket.TextMessage {
			fail("websocket op is not text")
		}
		// One Read of the message. gorilla returns at most what its read buffer holds per call,
		// a detail of this library rather than of theirs: fill p as far as the message goes.
		n, err := io.ReadFull(r, p)
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			fail("cannot read a message: %v", err)
		}
		if _, err := os.Stdout.Write(p[:n]); err != nil {
			fail("cannot write: %v", err)
		}
	}
}

func main() {
	if len(os.Args) != 3 {
		fail("usage: httpfstream-client append|follow ws://host/path")
	}
	switch os.Args[1] {
	case "append":
		appendStdin(os.Args[2])
	case "follow":
		follow(os.Args[2])
	default:
		fail("unknown verb %s", os.Args[1])
	}
}
