package main

// A tiny wire-protocol front for FerretDB that runs write commands one at a time.
//
// Why: FerretDB 1.x implements findAndModify/update/delete as "query, change in Go, write back"
// without a transaction, so concurrent `$inc`s from different connections lose updates and
// concurrent upserts of one _id fail with E11000 (measured: 50 parallel findOneAndUpdate $inc
// on one document ended at 7, not 50). Our services allocate per-conversation sequence numbers
// with exactly that pattern, so we serialize write commands across all connections here.
// Reads pass through concurrently; a whole request/reply round trip of a write holds the lock.
//
// Only what the MongoDB drivers send is understood: OP_MSG (2013), plus legacy OP_QUERY (2004)
// for the handshake. Anything else (e.g. OP_COMPRESSED, which FerretDB never negotiates) is
// treated as a write, which is always safe.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
)

const (
	opQuery = 2004
	opMsg   = 2013

	flagChecksumPresent = 1 << 0
	flagMoreToCome      = 1 << 1

	maxMessageLen = 48 * 1024 * 1024 // MongoDB's maxMessageSizeBytes
)

// writeCommands are the commands whose execution must not interleave.
var writeCommands = map[string]bool{
	"insert": true, "update": true, "delete": true,
	"findandmodify": true, // compared lower-cased
	"createindexes": true, "dropindexes": true, "create": true, "drop": true,
	"dropdatabase": true, "renamecollection": true, "collmod": true,
}

type serializer struct {
	backend string // FerretDB's own (internal) TCP address
	logger  *slog.Logger
	writeMu sync.Mutex
}

func (s *serializer) serve(l net.Listener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go s.handle(c)
	}
}

func (s *serializer) handle(client net.Conn) {
	defer client.Close()

	backend, err := net.Dial("tcp", s.backend)
	if err != nil {
		s.logger.Error("cannot reach FerretDB", "error", err)
		return
	}
	defer backend.Close()

	for {
		req, err := readMessage(client)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.logger.Debug("client connection ended", "error", err)
			}
			return
		}

		if err = s.roundTrip(client, backend, req); err != nil {
			s.logger.Debug("connection ended", "error", err)
			return
		}
	}
}

// roundTrip forwards one request and every reply it produces.
func (s *serializer) roundTrip(client, backend net.Conn, req []byte) error {
	if isWrite(req) {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
	}

	if _, err := backend.Write(req); err != nil {
		return err
	}

	if opCode(req) == opMsg && msgFlags(req)&flagMoreToCome != 0 {
		return nil // fire-and-forget (w:0): no reply follows
	}

	for {
		reply, err := readMessage(backend)
		if err != nil {
			return err
		}
		if _, err = client.Write(reply); err != nil {
			return err
		}
		if opCode(reply) != opMsg || msgFlags(reply)&flagMoreToCome == 0 {
			return nil
		}
	}
}

func readMessage(r io.Reader) ([]byte, error) {
	var header [16]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return nil, err
	}
	n := int(int32(binary.LittleEndian.Uint32(header[0:4])))
	if n < 16 || n > maxMessageLen {
		return nil, fmt.Errorf("bad message length %d", n)
	}
	msg := make([]byte, n)
	copy(msg, header[:])
	if _, err := io.ReadFull(r, msg[16:]); err != nil {
		return nil, err
	}
	return msg, nil
}

func opCode(msg []byte) int32 { return int32(binary.LittleEndian.Uint32(msg[12:16])) }

func msgFlags(msg []byte) uint32 {
	if len(msg) < 20 {
		return 0
	}
	return binary.LittleEndian.Uint32(msg[16:20])
}

// isWrite reports whether the message must run under the global write lock.
func isWrite(msg []byte) bool {
	switch opCode(msg) {
	case opQuery:
		return false // only the legacy handshake uses it
	case opMsg:
		name, ok := msgCommand(msg)
		return !ok || writeCommands[strings.ToLower(name)]
	default:
		return true
	}
}

// msgCommand returns the first field name of an OP_MSG's body (kind 0) section.
func msgCommand(msg []byte) (string, bool) {
	end := len(msg)
	if msgFlags(msg)&flagChecksumPresent != 0 {
		end -= 4
	}
	for i := 20; i < end; {
		kind := msg[i]
		i++
		if i+4 > end {
			return "", false
		}
		size := int(int32(binary.LittleEndian.Uint32(msg[i : i+4])))
		if size < 5 || i+size > end {
			return "", false
		}
		if kind == 0 {
			// BSON document: int32 length, then elements (type byte, cstring name, value).
			doc := msg[i : i+size]
			if len(doc) < 6 || doc[4] == 0 {
				return "", false
			}
			nameEnd := 5
			for nameEnd < len(doc) && doc[nameEnd] != 0 {
				nameEnd++
			}
			if nameEnd >= len(doc) {
				return "", false
			}
			return string(doc[5:nameEnd]), true
		}
		i += size // kind 1: document sequence; its size includes itself
	}
	return "", false
}
