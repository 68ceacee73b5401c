vcl 4.1;

# A caching edge in front of @sluice/chunked-server (Varnish 7). Copy this file and set the
# origin's address below; run one edge per machine in front of the same origin. See README.md.

backend origin {
    .host = "127.0.0.1";
    .port = "9094";
    # The origin holds a GET until the object's upload starts (wait-for-content) and a blocking
    # playlist reload for up to three target durations; a live object's bytes arrive as they are
    # ingested. Give both room.
    .first_byte_timeout = 30s;
    .between_bytes_timeout = 30s;
    .probe = {
        .url = "/health";
        .interval = 1s;
        .timeout = 1s;
        .window = 3;
        .threshold = 2;
    }
}

sub vcl_recv {
    # Encoders write to the origin, never through an edge: an edge is public and caches.
    if (req.method == "PUT" || req.method == "POST" || req.method == "DELETE") {
        return (synth(405, "Writes go to the origin, not to an edge"));
    }
    # The origin's own reports are the origin's: never cached.
    if (req.url ~ "^/(health|metrics)(\?|$)") {
        return (pass);
    }
    # Objects are the same for everyone: cookies play no part. (A request with Authorization, for
    # an origin with a read token, is passed by the built-in VCL: the edge does not share it.)
    unset req.http.Cookie;
}

sub vcl_backend_response {
    # Each object is fetched once per edge and streamed to every reader while it is still
    # being fetched: readers that arrive meanwhile wait for the headers, then read along.
    set beresp.do_stream = true;

    if (beresp.status != 200 && beresp.status != 204) {
        # A 404 (not uploaded yet), a 503 (a reload no update satisfied)…: never kept, the next
        # request asks the origin again.
        set beresp.ttl = 1s;
        set beresp.grace = 0s;
        set beresp.uncacheable = true;
        return (deliver);
    }

    if (bereq.url ~ "\.m3u8(\?|$)" || beresp.http.Content-Type ~ "(?i)mpegurl") {
        if (bereq.url ~ "[?&]_HLS_(msn|part)=") {
            # A blocking reload's answer: the first version that held what was asked for. Its URL
            # is its own, so it can be kept; every player asking for the same part shares it.
            set beresp.ttl = 10s;
        } else {
            # A plain playlist GET: the newest version, shared by whoever asks at the same moment.
            set beresp.ttl = 0.5s;
        }
        set beresp.grace = 0s;
        return (deliver);
    }

    # Parts, segments, any object: as long as the origin's Cache-Control says (the upload's own,
    # live and finished alike). An object whose upload said nothing is kept for `default_ttl`;
    # `no-cache`, `no-store` or `private` make it uncacheable (the built-in VCL, below).
}

sub vcl_deliver {
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}
