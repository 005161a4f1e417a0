using System.Text.Json;
using AgentRuns.Functions.Tests.Support;
using static AgentRuns.Functions.Tests.Support.RunAssertions;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>
/// Malformed requests across every route: each gets the documented status and reason_code, none gets a 500, and
/// none changes a run or an event.
/// </summary>
public sealed class HostileInputTests
{
    private const string R = "{run}";

    private sealed record Case(string Name, string Method, string Path, string? Body, int Status, string ReasonCode, Dictionary<string, string>? Headers = null);

    private static IEnumerable<Case> Cases()
    {
        var big = new string('x', 40_000);
        var nested = string.Concat(Enumerable.Repeat("{\"a\":", 200)) + "1" + new string('}', 200);
        const string Bad = "invalid_request";
        const string Type = "invalid_signal_type";

        // POST /v1/runs
        yield return new("create: not JSON", "POST", "/v1/runs", "{not json", 400, Bad);
        yield return new("create: array", "POST", "/v1/runs", "[]", 400, Bad);
        yield return new("create: empty", "POST", "/v1/runs", "", 400, Bad);
        yield return new("create: null", "POST", "/v1/runs", "null", 400, Bad);
        yield return new("create: string", "POST", "/v1/runs", "\"run\"", 400, Bad);
        yield return new("create: input string", "POST", "/v1/runs", """{"input":"goal"}""", 400, Bad);
        yield return new("create: no input", "POST", "/v1/runs", """{"metadata":{}}""", 400, Bad);
        yield return new("create: empty goal", "POST", "/v1/runs", """{"input":{"goal":""}}""", 400, Bad);
        yield return new("create: numeric goal", "POST", "/v1/runs", """{"input":{"goal":42}}""", 400, Bad);
        yield return new("create: timeout as string", "POST", "/v1/runs", """{"input":{"goal":"g"},"signal_timeout_seconds":"10"}""", 400, Bad);
        yield return new("create: timeout zero", "POST", "/v1/runs", """{"input":{"goal":"g"},"signal_timeout_seconds":0}""", 400, Bad);
        yield return new("create: timeout huge", "POST", "/v1/runs", """{"input":{"goal":"g"},"signal_timeout_seconds":1e10}""", 400, Bad);
        yield return new("create: timeout bool", "POST", "/v1/runs", """{"input":{"goal":"g"},"signal_timeout_seconds":true}""", 400, Bad);
        yield return new("create: metadata array", "POST", "/v1/runs", """{"input":{"goal":"g"},"metadata":[1]}""", 400, Bad);
        yield return new("create: unknown member", "POST", "/v1/runs", """{"input":{"goal":"g"},"model":"gpt"}""", 400, Bad);
        yield return new("create: unknown step", "POST", "/v1/runs", """{"input":{"goal":"g","plan":[{"type":"teleport"}]}}""", 400, Bad);
        yield return new("create: plan string", "POST", "/v1/runs", """{"input":{"goal":"g","plan":"all"}}""", 400, Bad);
        yield return new("create: deep nesting", "POST", "/v1/runs", "{\"input\":{\"goal\":\"g\",\"deep\":" + nested + "}}", 400, Bad);
        yield return new("create: huge goal", "POST", "/v1/runs", "{\"input\":{\"goal\":\"" + big + "\"}}", 413, "payload_too_large");
        yield return new("create: long idempotency key", "POST", "/v1/runs", $$"""{"input":{"goal":"g"},"idempotency_key":"{{new string('k', 300)}}"}""", 400, Bad);
        yield return new("create: numeric idempotency key", "POST", "/v1/runs", """{"input":{"goal":"g"},"idempotency_key":42}""", 400, Bad);
        yield return new("create: header and body keys differ", "POST", "/v1/runs", """{"input":{"goal":"g"},"idempotency_key":"a"}""", 400, Bad,
            new() { ["Idempotency-Key"] = "b" });
        yield return new("create: duplicate member", "POST", "/v1/runs", """{"input":{"goal":"g"},"input":{"goal":"h"}}""", 400, Bad);
        yield return new("create: lone surrogate", "POST", "/v1/runs", """{"input":{"goal":"\ud800"}}""", 400, Bad);
        yield return new("create: lone surrogate in a name", "POST", "/v1/runs", """{"input":{"goal":"g"},"metadata":{"\ud800":1}}""", 400, Bad);
        yield return new("create: reversed pair in a name", "POST", "/v1/runs", """{"input":{"goal":"g"},"metadata":{"\udc00\ud800":1}}""", 400, Bad);
        yield return new("create: text/plain", "POST", "/v1/runs", """{"input":{"goal":"g"}}""", 415, "unsupported_media_type",
            new() { ["Content-Type"] = "text/plain" });
        yield return new("create: JSON declared \"utf-8\", quoted, is JSON", "POST", "/v1/runs", "{\"input\":42}", 400, Bad,
            new() { ["Content-Type"] = "application/json; charset=\"utf-8\"" });
        yield return new("create: JSON declared UTF-16", "POST", "/v1/runs", """{"input":{"goal":"g"}}""", 415, "unsupported_media_type",
            new() { ["Content-Type"] = "application/json; charset=utf-16" });
        yield return new("create: JSON declared Latin-1", "POST", "/v1/runs", """{"input":{"goal":"g"}}""", 415, "unsupported_media_type",
            new() { ["Content-Type"] = "application/json; charset=iso-8859-1" });
        yield return new("create: form", "POST", "/v1/runs", "input=goal", 415, "unsupported_media_type",
            new() { ["Content-Type"] = "application/x-www-form-urlencoded" });
        yield return new("create: NaN", "POST", "/v1/runs", """{"input":{"goal":"g"},"signal_timeout_seconds":NaN}""", 400, Bad);
        yield return new("create: trailing comma", "POST", "/v1/runs", """{"input":{"goal":"g"},}""", 400, Bad);
        yield return new("create: comment", "POST", "/v1/runs", """{"input":{"goal":"g"} /* hi */}""", 400, Bad);
        yield return new("create: control char in key", "POST", "/v1/runs", """{"input":{"goal":"g"},"idempotency_key":"a\u0001b"}""", 400, Bad);

        // POST /v1/runs/{id}/signal
        yield return new("signal: unknown action", "POST", $"/v1/runs/{R}/signal", """{"action":"approve_all"}""", 400, Type);
        yield return new("signal: numeric action", "POST", $"/v1/runs/{R}/signal", """{"action":42}""", 400, Type);
        yield return new("signal: no action", "POST", $"/v1/runs/{R}/signal", """{}""", 400, Type);
        yield return new("signal: action case", "POST", $"/v1/runs/{R}/signal", """{"action":"APPROVE"}""", 400, Type);
        yield return new("signal: action with NUL", "POST", $"/v1/runs/{R}/signal", """{"action":"approve\u0000"}""", 400, Type);
        yield return new("signal: submit without payload", "POST", $"/v1/runs/{R}/signal", """{"action":"submit_input"}""", 400, Bad);
        yield return new("signal: submit empty payload", "POST", $"/v1/runs/{R}/signal", """{"action":"submit_input","payload":{}}""", 400, Bad);
        yield return new("signal: reject with a numeric reason", "POST", $"/v1/runs/{R}/signal", """{"action":"reject","payload":{"reason":1}}""", 400, Bad);
        yield return new("signal: reject with an object reason", "POST", $"/v1/runs/{R}/signal", """{"action":"reject","payload":{"reason":{"why":"x"}}}""", 400, Bad);
        yield return new("signal: payload string", "POST", $"/v1/runs/{R}/signal", """{"action":"approve","payload":"yes"}""", 400, Bad);
        yield return new("signal: numeric request id", "POST", $"/v1/runs/{R}/signal", """{"action":"approve","request_id":7}""", 400, Bad);
        yield return new("signal: truncated", "POST", $"/v1/runs/{R}/signal", "{\"action\":", 400, Bad);
        yield return new("signal: unknown member", "POST", $"/v1/runs/{R}/signal", """{"action":"approve","force":true}""", 400, Bad);
        yield return new("signal: huge payload", "POST", $"/v1/runs/{R}/signal", "{\"action\":\"submit_input\",\"payload\":{\"x\":\"" + big + "\"}}", 413, "payload_too_large");
        yield return new("signal: malformed run id", "POST", "/v1/runs/run_'or'1'eq'1/signal", """{"action":"approve"}""", 400, Bad);
        yield return new("signal: unicode run id", "POST", "/v1/runs/run_%C3%BC/signal", """{"action":"approve"}""", 400, Bad);
        yield return new("signal: text/plain", "POST", $"/v1/runs/{R}/signal", """{"action":"approve"}""", 415, "unsupported_media_type",
            new() { ["Content-Type"] = "text/plain; charset=utf-8" });

        // POST /v1/runs/{id}/cancel
        yield return new("cancel: array body", "POST", $"/v1/runs/{R}/cancel", "[]", 400, Bad);
        yield return new("cancel: unknown member", "POST", $"/v1/runs/{R}/cancel", """{"now":true}""", 400, Bad);
        yield return new("cancel: numeric reason", "POST", $"/v1/runs/{R}/cancel", """{"reason":1}""", 400, Bad);
        yield return new("cancel: malformed run id", "POST", "/v1/runs/run%20x/cancel", null, 400, Bad);

        // GET
        yield return new("list: unknown status", "GET", "/v1/runs?status=sleeping", null, 400, Bad);
        yield return new("list: limit zero", "GET", "/v1/runs?limit=0", null, 400, Bad);
        yield return new("list: limit text", "GET", "/v1/runs?limit=abc", null, 400, Bad);
        yield return new("list: limit twice", "GET", "/v1/runs?limit=1&limit=2", null, 400, Bad);
        yield return new("list: limit with a NUL", "GET", "/v1/runs?limit=1%00", null, 400, Bad);
        yield return new("stream: bad after_seq beside a good Last-Event-ID", "GET", $"/v1/runs/{R}/events/stream?after_seq=abc", null, 400, Bad, new() { ["Last-Event-ID"] = "1" });
        yield return new("list: odd cursor", "GET", "/v1/runs?cursor=x'%20or%20'1", null, 400, Bad);
        yield return new("get: long id", "GET", "/v1/runs/run_" + new string('a', 200), null, 400, Bad);
        yield return new("get: id with a final newline", "GET", "/v1/runs/run_" + new string('a', 26) + "%0A", null, 400, Bad);
        yield return new("cancel: id with a final newline", "POST", "/v1/runs/run_" + new string('a', 26) + "%0A/cancel", "{}", 400, Bad);
        yield return new("webhook: id with a final newline", "GET", "/v1/webhooks/wh_" + new string('a', 26) + "%0A", null, 400, Bad);
        yield return new("events: negative after_seq", "GET", $"/v1/runs/{R}/events?after_seq=-1", null, 400, Bad);
        yield return new("events: limit too big", "GET", $"/v1/runs/{R}/events?limit=5000", null, 400, Bad);
        yield return new("events: exponent", "GET", $"/v1/runs/{R}/events?after_seq=1e3", null, 400, Bad);
        yield return new("stream: bad Last-Event-ID", "GET", $"/v1/runs/{R}/events/stream", null, 400, Bad, new() { ["Last-Event-ID"] = "abc" });
        yield return new("stream: negative after_seq", "GET", $"/v1/runs/{R}/events/stream?after_seq=-5", null, 400, Bad);
    }

    [Fact]
    public async Task MalformedRequests_GetTheirStatusAndReasonCode_AndChangeNothing()
    {
        var api = await (await RunsTestHost.GetAsync()).NewTenantAsync();
        var runId = await api.CreateRunAsync(Plan("""{"type":"data","prompt":"Who?"}"""));
        await api.WaitForEventAsync(runId, "run.awaiting_input");
        var before = await SnapshotAsync(api, runId);

        var cases = Cases().ToList();
        Assert.True(cases.Count >= 40, $"only {cases.Count} cases");
        var failures = new List<string>();
        foreach (var c in cases)
        {
            var response = await api.SendAsync(c.Method, c.Path.Replace(R, runId, StringComparison.Ordinal), c.Body, c.Headers);
            var reason = response.ContentType == "application/problem+json" ? response.ReasonCode : null;
            if (response.Status != c.Status || reason != c.ReasonCode)
            {
                failures.Add($"{c.Name}: expected {c.Status} {c.ReasonCode}, got {response.Status} {response.Body[..Math.Min(200, response.Body.Length)]}");
            }
        }

        Assert.Empty(failures);
        Assert.Equal(before, await SnapshotAsync(api, runId));
    }

    [Fact]
    public async Task UnicodeAndLongStrings_RoundTripExactly()
    {
        var api = await (await RunsTestHost.GetAsync()).NewTenantAsync();
        var goal = "Envoyer la mise à jour 📨 — مرحبا — 你好 — " + new string('é', 5000);
        var created = await api.PostAsync("/v1/runs", JsonSerializer.Serialize(new { input = new { goal }, metadata = new { emoji = "🧪" } }));
        Assert.Equal(201, created.Status);
        var runId = created.Json.GetProperty("id").GetString()!;

        var run = (await api.GetAsync($"/v1/runs/{runId}")).Json;
        Assert.Equal(goal, run.GetProperty("input").GetProperty("goal").GetString());
        Assert.Equal("🧪", run.GetProperty("metadata").GetProperty("emoji").GetString());
        var createdEvent = await api.WaitForEventAsync(runId, "run.created");
        Assert.Equal(goal, Value(createdEvent).GetProperty("input").GetProperty("goal").GetString());
        await api.PostAsync($"/v1/runs/{runId}/cancel", null);
    }

    private static async Task<string> SnapshotAsync(ApiClient api, string runId)
    {
        var runs = (await api.GetAsync("/v1/runs?limit=100")).Json.GetProperty("data").EnumerateArray()
            .Select(r => $"{r.GetProperty("id")}:{r.GetProperty("status")}:{r.GetProperty("last_event_seq")}:{r.GetProperty("updated_at")}");
        var events = await api.EventsAsync(runId);
        return string.Join("|", runs) + "#" + events.Count;
    }
}
