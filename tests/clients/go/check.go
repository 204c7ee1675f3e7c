// Client-matrix check for redigo (Debian golang-github-gomodule-redigo-dev; RESP2), built offline
// in GOPATH mode against /usr/share/gocode. Reads REDIS_HOST, REDIS_PORT,
// REDIS_PASSWORD_FOR_TEST and CLIENTS_SKIP; exits non-zero at the first wrong answer. Error
// replies come back as redis.Error values. Keys and channels start with "go:".
package main

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
)

var (
	addr     = env("REDIS_HOST", "127.0.0.1") + ":" + env("REDIS_PORT", "6379")
	password = env("REDIS_PASSWORD_FOR_TEST", "ferrokv-matrix-secret")
	skip     = map[string]bool{}
	checks   = 0
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func check(what string, got, want interface{}) {
	if !reflect.DeepEqual(got, want) {
		fmt.Printf("FAIL %s: got %#v, want %#v\n", what, got, want)
		os.Exit(1)
	}
	checks++
	fmt.Printf("ok   %s\n", what)
}

// must fails the program on a transport or unexpected error.
func must(what string, v interface{}, err error) interface{} {
	if err != nil {
		fmt.Printf("FAIL %s: %v\n", what, err)
		os.Exit(1)
	}
	return v
}

// m fails the program on a transport or unexpected error, else returns the value.
func m[T any](v T, err error) T {
	must("command", nil, err)
	return v
}

// errOf keeps the error of a (reply, error) pair.
func errOf(_ interface{}, err error) error { return err }

// expectError: err must be a redis.Error (an error reply) whose first word is prefix.
func expectError(what string, err error, prefix string) {
	var re redis.Error
	if !errors.As(err, &re) {
		fmt.Printf("FAIL %s: want a redis.Error, got %v\n", what, err)
		os.Exit(1)
	}
	check(what, strings.Fields(re.Error())[0], prefix)
}

func dial(opts ...redis.DialOption) redis.Conn {
	c, err := redis.Dial("tcp", addr, opts...)
	must("dial", nil, err)
	return c
}

// scanAll runs a SCAN-family command until the cursor is 0 and returns every element.
func scanAll(c redis.Conn, cmd string, args ...interface{}) []string {
	cursor := "0"
	var all []string
	for rounds := 0; ; rounds++ {
		full := append([]interface{}{cursor}, args...)
		if cmd != "SCAN" {
			full = append([]interface{}{args[0], cursor}, args[1:]...)
		}
		vals := m(redis.Values(c.Do(cmd, full...)))
		cursor = m(redis.String(vals[0], nil))
		all = append(all, m(redis.Strings(vals[1], nil))...)
		if cursor == "0" {
			return all
		}
		if rounds > 10000 {
			must(cmd, nil, errors.New("cursor never returned to 0"))
		}
	}
}

func main() {
	for _, s := range strings.Split(os.Getenv("CLIENTS_SKIP"), ",") {
		skip[s] = true
	}
	const p = "go:"
	keys := []interface{}{}
	for _, k := range []string{"s", "n", "l", "h", "set", "set2", "z", "w", "e", "lua", "bl", "wake"} {
		keys = append(keys, p+k)
	}
	r := dial()
	check("ping", m(redis.String(r.Do("PING"))), "PONG")
	m(r.Do("DEL", keys...))

	// AUTH
	m(r.Do("CONFIG", "SET", "requirepass", password))
	func() {
		defer r.Do("CONFIG", "SET", "requirepass", "")
		a := dial()
		expectError("auth: no password", errOf(a.Do("GET", p+"s")), "NOAUTH")
		_, err := redis.Dial("tcp", addr, redis.DialPassword("nope"))
		check("auth: wrong password refused", err != nil && strings.Contains(err.Error(), "WRONGPASS"), true)
		b := dial(redis.DialPassword(password))
		check("auth: with password", m(redis.String(b.Do("PING"))), "PONG")
	}()

	// strings with TTL
	check("set ex", m(redis.String(r.Do("SET", p+"s", "v1", "EX", 100))), "OK")
	check("get", m(redis.String(r.Do("GET", p+"s"))), "v1")
	ttl := m(redis.Int(r.Do("TTL", p+"s")))
	check("ttl in (0,100]", ttl > 0 && ttl <= 100, true)
	_, err := redis.String(r.Do("SET", p+"s", "v2", "PX", 5000, "NX"))
	check("set px nx on existing is nil", err, redis.ErrNil)
	m(r.Do("SET", p+"n", 10))
	check("incrby", m(redis.Int(r.Do("INCRBY", p+"n", 5))), 15)
	check("incrbyfloat", m(redis.Float64(r.Do("INCRBYFLOAT", p+"n", 0.5))), 15.5)
	mget := m(redis.Values(r.Do("MGET", p+"s", p+"missing")))
	check("mget", []interface{}{string(mget[0].([]byte)), mget[1]}, []interface{}{"v1", nil})
	check("persist", m(redis.Bool(r.Do("PERSIST", p+"s"))), true)

	// lists
	check("rpush", m(redis.Int(r.Do("RPUSH", p+"l", "a", "b", "c"))), 3)
	check("lpush", m(redis.Int(r.Do("LPUSH", p+"l", "z"))), 4)
	check("lrange", m(redis.Strings(r.Do("LRANGE", p+"l", 0, -1))), []string{"z", "a", "b", "c"})
	check("lpop", m(redis.String(r.Do("LPOP", p+"l"))), "z")
	check("rpop count", m(redis.Strings(r.Do("RPOP", p+"l", 2))), []string{"c", "b"})

	// hashes
	check("hset", m(redis.Int(r.Do("HSET", p+"h", "f1", 1, "f2", "two"))), 2)
	check("hgetall", m(redis.StringMap(r.Do("HGETALL", p+"h"))), map[string]string{"f1": "1", "f2": "two"})
	check("hincrby", m(redis.Int(r.Do("HINCRBY", p+"h", "f1", 41))), 42)
	var f1 int
	var f2 string
	vals := m(redis.Values(r.Do("HMGET", p+"h", "f1", "f2")))
	m(redis.Scan(vals, &f1, &f2))
	check("hmget + redis.Scan", []interface{}{f1, f2}, []interface{}{42, "two"})

	if !skip["sets"] {
		check("sadd", m(redis.Int(r.Do("SADD", p+"set", "a", "b", "c"))), 3)
		members := m(redis.Strings(r.Do("SMEMBERS", p+"set")))
		sort.Strings(members)
		check("smembers", members, []string{"a", "b", "c"})
		check("sismember", m(redis.Bool(r.Do("SISMEMBER", p+"set", "b"))), true)
		check("srem", m(redis.Int(r.Do("SREM", p+"set", "a"))), 1)
		m(r.Do("SADD", p+"set2", "c", "d"))
		check("sinter", m(redis.Strings(r.Do("SINTER", p+"set", p+"set2"))), []string{"c"})
	}
	if !skip["zsets"] {
		check("zadd", m(redis.Int(r.Do("ZADD", p+"z", 1, "a", 2.5, "b", 3, "c"))), 3)
		check("zrange withscores", m(redis.Strings(r.Do("ZRANGE", p+"z", 0, -1, "WITHSCORES"))), []string{"a", "1", "b", "2.5", "c", "3"})
		check("zscore", m(redis.Float64(r.Do("ZSCORE", p+"z", "b"))), 2.5)
		check("zincrby", m(redis.Float64(r.Do("ZINCRBY", p+"z", 10, "a"))), 11.0)
		check("zrank", m(redis.Int(r.Do("ZRANK", p+"z", "a"))), 2)
		check("zpopmin", m(redis.Strings(r.Do("ZPOPMIN", p+"z"))), []string{"b", "2.5"})
	}

	// a pipeline of 1000 commands: Send, Flush, Receive
	for i := 0; i < 1000; i++ {
		if i%2 == 0 {
			must("send", nil, r.Send("SET", fmt.Sprintf("%spipe:%d", p, i), i))
		} else {
			must("send", nil, r.Send("GET", fmt.Sprintf("%spipe:%d", p, i-1)))
		}
	}
	must("flush", nil, r.Flush())
	for i := 0; i < 1000; i++ {
		v := m(r.Receive())
		want := interface{}("OK")
		if i%2 == 1 {
			want = []byte(fmt.Sprint(i - 1))
		}
		if !reflect.DeepEqual(v, want) {
			check(fmt.Sprintf("pipeline reply %d", i), v, want)
		}
	}
	check("pipeline of 1000 commands", true, true)
	for i := 0; i < 1000; i += 2 {
		r.Send("DEL", fmt.Sprintf("%spipe:%d", p, i))
	}
	r.Flush()
	deleted := 0
	for i := 0; i < 500; i++ {
		deleted += m(redis.Int(r.Receive()))
	}
	check("pipeline of 500 DELs", deleted, 500)

	// MULTI/EXEC with WATCH
	m(r.Do("SET", p+"w", 1))
	m(r.Do("WATCH", p+"w"))
	v := m(redis.Int(r.Do("GET", p+"w")))
	r.Send("MULTI")
	r.Send("SET", p+"w", v+1)
	r.Send("INCR", p+"w")
	res := m(redis.Values(r.Do("EXEC")))
	check("watch + multi/exec", res, []interface{}{"OK", int64(3)})
	other := dial()
	m(r.Do("WATCH", p+"w"))
	m(other.Do("SET", p+"w", 100))
	r.Send("MULTI")
	r.Send("INCR", p+"w")
	_, err = redis.Values(r.Do("EXEC"))
	check("exec after a watched write is nil", err, redis.ErrNil)
	check("watched key unchanged", m(redis.Int(r.Do("GET", p+"w"))), 100)
	r.Send("MULTI")
	r.Send("INCR", p+"w")
	r.Send("LPUSH", p+"w", "x")
	res = m(redis.Values(r.Do("EXEC")))
	_, isErr := res[1].(redis.Error)
	check("exec with an error inside", []interface{}{res[0], isErr}, []interface{}{int64(101), true})

	// Lua through redis.Script (EVALSHA, then EVAL on NOSCRIPT)
	m(r.Do("SCRIPT", "FLUSH"))
	m(r.Do("SET", p+"lua", 1))
	script := redis.NewScript(1, "return {KEYS[1], ARGV[1], redis.call('INCRBY', KEYS[1], ARGV[1])}")
	sres := m(redis.Values(script.Do(r, p+"lua", 2)))
	check("script (NOSCRIPT -> EVAL)", sres, []interface{}{[]byte(p + "lua"), []byte("2"), int64(3)})
	check("script cached", m(redis.Ints(r.Do("SCRIPT", "EXISTS", script.Hash()))), []int{1})
	sres = m(redis.Values(script.Do(r, p+"lua", 4)))
	check("script again (EVALSHA)", sres[2], int64(7))
	expectError("script error", errOf(redis.NewScript(1, "return redis.call('LPUSH', KEYS[1], 'x')").Do(r, p+"lua")), "WRONGTYPE")

	// pub/sub with a second connection
	psc := redis.PubSubConn{Conn: dial()}
	must("subscribe", nil, psc.Subscribe(p+"chan"))
	must("psubscribe", nil, psc.PSubscribe(p+"pat*"))
	for n := 0; n < 2; {
		switch m := psc.ReceiveWithTimeout(5 * time.Second).(type) {
		case redis.Subscription:
			n++
		case error:
			must("subscribe", nil, m)
		}
	}
	check("publish receivers", m(redis.Int(r.Do("PUBLISH", p+"chan", "hello"))), 1)
	check("publish to pattern", m(redis.Int(r.Do("PUBLISH", p+"pattern", "hi"))), 1)
	var got []string
	for len(got) < 2 {
		switch m := psc.ReceiveWithTimeout(5 * time.Second).(type) {
		case redis.Message:
			got = append(got, fmt.Sprintf("%s|%s|%s", m.Pattern, m.Channel, m.Data))
		case error:
			must("receive", nil, m)
		}
	}
	check("messages", got, []string{"|" + p + "chan|hello", p + "pat*|" + p + "pattern|hi"})
	psc.Close()

	// SCAN loops
	for i := 0; i < 120; i++ {
		r.Send("SET", fmt.Sprintf("%sscan:%d", p, i), i)
	}
	r.Flush()
	for i := 0; i < 120; i++ {
		m(r.Receive())
	}
	found := scanAll(r, "SCAN", "MATCH", p+"scan:*", "COUNT", 10)
	check("scan", len(found), 120)
	for _, k := range found {
		r.Send("DEL", k)
	}
	r.Flush()
	for range found {
		m(r.Receive())
	}
	args := []interface{}{p + "hs"}
	for i := 0; i < 300; i++ {
		args = append(args, fmt.Sprintf("f%d", i), i)
	}
	m(r.Do("HSET", args...))
	check("hscan", len(scanAll(r, "HSCAN", p+"hs", "COUNT", 20)), 600)
	if !skip["sets"] {
		args = []interface{}{p + "ss"}
		for i := 0; i < 300; i++ {
			args = append(args, i)
		}
		m(r.Do("SADD", args...))
		seen := map[string]bool{}
		for _, member := range scanAll(r, "SSCAN", p+"ss", "MATCH", "1*") {
			seen[member] = true
		}
		check("sscan", len(seen), 111)
	}
	if !skip["zsets"] {
		args = []interface{}{p + "zs"}
		for i := 0; i < 300; i++ {
			args = append(args, i, fmt.Sprintf("m%d", i))
		}
		m(r.Do("ZADD", args...))
		check("zscan", len(scanAll(r, "ZSCAN", p+"zs")), 600)
	}
	m(r.Do("DEL", p+"hs", p+"ss", p+"zs"))

	// blocking pop with a timeout
	started := time.Now()
	_, err = redis.Strings(r.Do("BLPOP", p+"bl", 0.1))
	check("blpop timeout is nil", err, redis.ErrNil)
	if !skip["blocking"] {
		check("blpop waited for its timeout", time.Since(started) >= 90*time.Millisecond, true)
	}
	m(r.Do("RPUSH", p+"bl", "x"))
	check("blpop ready", m(redis.Strings(r.Do("BLPOP", p+"bl", 1))), []string{p + "bl", "x"})
	if !skip["blocking"] {
		done := make(chan []string)
		go func() {
			c := dial()
			v, _ := redis.Strings(c.Do("BLPOP", p+"wake", 5))
			done <- v
		}()
		for i := 0; i < 500; i++ {
			info := m(redis.String(r.Do("INFO", "clients")))
			if !strings.Contains(info, "blocked_clients:0") {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		m(r.Do("RPUSH", p+"wake", "w"))
		check("blpop woken by rpush", <-done, []string{p + "wake", "w"})
	}

	// errors are redis.Error values
	m(r.Do("SET", p+"e", "string"))
	expectError("WRONGTYPE", errOf(r.Do("LPUSH", p+"e", "x")), "WRONGTYPE")
	expectError("not an integer", errOf(r.Do("INCR", p+"e")), "ERR")
	expectError("unknown command", errOf(r.Do("NOSUCHCOMMAND")), "ERR")

	m(r.Do("DEL", keys...))
	fmt.Printf("go redigo: %d checks passed\n", checks)
}
