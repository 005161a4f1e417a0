using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using AgentRuns.Functions.Tests.Support;
using static AgentRuns.Functions.Tests.Support.RunAssertions;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>Typed requests, approve with edits, who answered, reminders, extensions and the inbox: through the API.</summary>
public sealed class HumanSideTests
{
    private const string EmailSchema = """{"type":"object","required":["to"],"properties":{"to":{"type":"string","pattern":"^[^@ ]+@[^@ ]+$"},"cc":{"type":"array","items":{"type":"string"}}},"additionalProperties":false}""";

    [Fact]
    public async Task ATypedDataRequest_ShowsItsSchema_RefusesAWrongAnswerWith422AndPointers_AndTakesARightOne()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan($$"""{"type":"data","prompt":"Who gets it?","response_schema":{{EmailSchema}}}"""));
        var run = await api.WaitForStatusAsync(runId, "awaiting_input");
        Assert.Equal("object", run.GetProperty("pending_input").GetProperty("response_schema").GetProperty("type").GetString());
        var before = await api.EventsAsync(runId);

        var wrong = await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"submit_input","payload":{"to":"nobody","cc":[1],"bcc":"x"}}""");

        Assert.Equal(422, wrong.Status);
        Assert.Equal("invalid_signal_payload", wrong.ReasonCode);
        var pointers = wrong.Json.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("pointer").GetString()).ToList();
        Assert.Contains("/to", pointers);
        Assert.Contains("/cc/0", pointers);
        Assert.Equal(before.Count, (await api.EventsAsync(runId)).Count);
        Assert.Equal("awaiting_input", (await api.GetAsync($"/v1/runs/{runId}")).Json.GetProperty("status").GetString());

        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"submit_input","payload":{"to":"leads@example.com"}}""")).Status);
        Assert.Equal("run.worker.succeeded", Type((await api.WaitForEndAsync(runId))[^1]));
    }

    [Fact]
    public async Task ApproveWithEdits_RecordsProposedAndApprovedArguments_AndTheRunGoesOnWithTheEditedOnes()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan($$$"""
            {"type":"approval","prompt":"Send?","action":{"tool":"send_email","arguments":{"to":"all@example.com"}},"allow_edits":true,"response_schema":{{{EmailSchema}}}}
            """));
        await api.WaitForStatusAsync(runId, "awaiting_input");

        var invalid = await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve","payload":{"arguments":{"to":"not an address"}}}""");
        Assert.Equal((422, "invalid_signal_payload"), (invalid.Status, invalid.ReasonCode));

        var approve = await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve","payload":{"arguments":{"to":"leads@example.com"}}}""");
        Assert.Equal(202, approve.Status);

        var events = await api.WaitForEndAsync(runId);
        var received = Value(events.Single(e => Type(e) == "run.signal_received"));
        Assert.Equal("all@example.com", received.GetProperty("proposed_arguments").GetProperty("to").GetString());
        Assert.Equal("leads@example.com", received.GetProperty("approved_arguments").GetProperty("to").GetString());
        Assert.True(received.GetProperty("edited").GetBoolean());
        var output = Value(events[^1]).GetProperty("output");
        Assert.Equal("leads@example.com", output.GetProperty("approved_actions")[0].GetProperty("arguments").GetProperty("to").GetString());
    }

    [Fact]
    public async Task EditsOnARequestThatDoesNotAllowThem_Are400_AndChangeNothing()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan("""{"type":"approval","action":{"tool":"send","arguments":{"to":"a"}}}"""));
        await api.WaitForStatusAsync(runId, "awaiting_input");

        var edit = await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve","payload":{"arguments":{"to":"b"}}}""");

        Assert.Equal((400, "invalid_signal_payload"), (edit.Status, edit.ReasonCode));
        Assert.Equal("awaiting_input", (await api.GetAsync($"/v1/runs/{runId}")).Json.GetProperty("status").GetString());
    }

    [Fact]
    public async Task WhoAnswered_IsInThe202_TheEvent_AndTheRun_AndWhoCancelledIsInTheCancel()
    {
        var host = await RunsTestHost.GetAsync();
        var tenant = "actor-" + Guid.NewGuid().ToString("N")[..8];
        var minted = await host.Keys.MintAsync(tenant, "Dana Smith (on call)");
        var api = new ApiClient(host, minted.Key) { TenantId = tenant };
        var runId = await api.CreateRunAsync(Plan("""{"type":"approval"}"""));
        await api.WaitForStatusAsync(runId, "awaiting_input");

        var accepted = await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""");

        var actor = accepted.Json.GetProperty("actor");
        Assert.Equal((minted.KeyId, "Dana Smith (on call)"), (actor.GetProperty("key_id").GetString(), actor.GetProperty("name").GetString()));
        Assert.DoesNotContain(minted.Hash, accepted.Body, StringComparison.Ordinal);
        var events = await api.WaitForEndAsync(runId);
        Assert.Equal(minted.KeyId, Value(events.Single(e => Type(e) == "run.signal_received")).GetProperty("actor").GetProperty("key_id").GetString());
        var run = (await api.GetAsync($"/v1/runs/{runId}")).Json;
        Assert.Equal("Dana Smith (on call)", run.GetProperty("last_answer").GetProperty("actor").GetProperty("name").GetString());

        var other = await api.CreateRunAsync(Plan("""{"type":"approval"}"""));
        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{other}/cancel", null)).Status);
        var cancelled = (await api.WaitForEndAsync(other))[^1];
        Assert.Equal(minted.KeyId, Value(cancelled).GetProperty("actor").GetProperty("key_id").GetString());
    }

    [Fact]
    public async Task Reminders_ArriveInOrderBeforeTheDeadline_AndStopAfterAnAnswer()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var unanswered = await api.CreateRunAsync(Plan("""{"type":"approval","timeout_seconds":4,"reminders":[2,3]}"""));
        var answered = await api.CreateRunAsync(Plan("""{"type":"approval","timeout_seconds":6,"reminders":[3]}"""));
        await api.WaitForStatusAsync(answered, "awaiting_input");
        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{answered}/signal", """{"action":"approve"}""")).Status);

        var events = await api.WaitForEndAsync(unanswered, TimeSpan.FromSeconds(30));
        var reminders = events.Where(e => Type(e) == "run.input_reminder").Select(Value).ToList();
        Assert.Equal([3, 2], reminders.Select(r => r.GetProperty("seconds_before").GetInt32()));
        var expiresAt = Value(events.Single(e => Type(e) == "run.awaiting_input")).GetProperty("expires_at").GetString();
        Assert.All(reminders, r => Assert.Equal(expiresAt, r.GetProperty("expires_at").GetString()));
        Assert.Equal("signal_timeout", Value(events[^1]).GetProperty("reason_code").GetString());
        var firstReminder = events.FindIndex(e => Type(e) == "run.input_reminder");
        Assert.True(firstReminder > events.FindIndex(e => Type(e) == "run.awaiting_input"));

        // The answered run: its 3-second reminder would have come at about 3 s; it never does.
        await Task.Delay(TimeSpan.FromSeconds(4));
        Assert.DoesNotContain("run.input_reminder", Types(await api.EventsAsync(answered)));
    }

    [Fact]
    public async Task Extend_MovesTheDeadline_ByOrTo_AndTheRunOutlivesItsOldDeadline()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan("""{"type":"approval","timeout_seconds":3}"""));
        var pending = (await api.WaitForStatusAsync(runId, "awaiting_input")).GetProperty("pending_input");
        var requestId = pending.GetProperty("request_id").GetString()!;
        var oldDeadline = DateTimeOffset.Parse(pending.GetProperty("expires_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture);

        var by = await api.PostAsync($"/v1/runs/{runId}/requests/{requestId}/extend", """{"extend_by_seconds":30}""");
        Assert.Equal(200, by.Status);
        var moved = DateTimeOffset.Parse(by.Json.GetProperty("expires_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(oldDeadline.AddSeconds(30), moved);
        var to = oldDeadline.AddSeconds(60);
        var at = await api.PostAsync($"/v1/runs/{runId}/requests/{requestId}/extend", $$"""{"expires_at":"{{to:yyyy-MM-ddTHH:mm:ss.fffZ}}"}""");
        Assert.Equal(200, at.Status);
        Assert.Equal(
            (moved, to),
            (DateTimeOffset.Parse(at.Json.GetProperty("previous_expires_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture),
             DateTimeOffset.Parse(at.Json.GetProperty("expires_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture)));

        var wait = oldDeadline.AddSeconds(1.5) - DateTimeOffset.UtcNow;
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait);
        }

        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);
        var events = await api.WaitForEndAsync(runId);
        Assert.Equal("run.worker.succeeded", Type(events[^1]));
        Assert.Equal(2, events.Count(e => Type(e) == "run.input_extended"));
        Assert.Equal(to.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture),
            Value(events.Last(e => Type(e) == "run.input_extended")).GetProperty("expires_at").GetString());
    }

    [Fact]
    public async Task ConcurrentExtends_AddUp_AndAShortOneNeverUndoesALongOne()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan("""{"type":"approval","timeout_seconds":600}"""));
        var pending = (await api.WaitForStatusAsync(runId, "awaiting_input")).GetProperty("pending_input");
        var extend = $"/v1/runs/{runId}/requests/{pending.GetProperty("request_id").GetString()}/extend";
        var deadline = At(pending.GetProperty("expires_at"));

        var tens = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => api.PostAsync(extend, """{"extend_by_seconds":10}""")));
        var mixed = await Task.WhenAll(api.PostAsync(extend, """{"extend_by_seconds":86400}"""), api.PostAsync(extend, """{"extend_by_seconds":10}"""));

        Assert.All(tens.Concat(mixed), r => Assert.Equal(200, r.Status));
        var after = (await api.GetAsync($"/v1/runs/{runId}")).Json.GetProperty("pending_input");
        Assert.Equal(deadline.AddSeconds(10 * 10 + 86400 + 10), At(after.GetProperty("expires_at")));
        Assert.Equal(12, (await api.EventsAsync(runId)).Count(e => Type(e) == "run.input_extended"));
        Assert.Equal(12, tens.Concat(mixed).Select(r => r.Json.GetProperty("expires_at").GetString()).Distinct().Count()); // each saw its own step

        static DateTimeOffset At(JsonElement e) => DateTimeOffset.Parse(e.GetString()!, System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task ExtendRacingTheDeadline_NeverBothExtendsAndTimesOut_Over50Trials()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var random = new Random(11);
        var trials = await Task.WhenAll(Enumerable.Range(0, 50).Select(async i =>
        {
            await Task.Delay(i * 40);
            var runId = await api.CreateRunAsync(Plan("""{"type":"approval","timeout_seconds":2}"""));
            var pending = Value(await api.WaitForEventAsync(runId, "run.awaiting_input")); // the status may be gone by the time we look
            var expiresAt = DateTimeOffset.Parse(pending.GetProperty("expires_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            var wait = expiresAt.AddMilliseconds(random.Next(-250, 250)) - DateTimeOffset.UtcNow;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait);
            }

            var extend = await api.PostAsync($"/v1/runs/{runId}/requests/{pending.GetProperty("request_id").GetString()}/extend", """{"extend_by_seconds":30}""");
            if (extend.Status == 200)
            {
                Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);
            }

            return (runId, extend, events: await api.WaitForEndAsync(runId, TimeSpan.FromSeconds(30)));
        }));

        foreach (var (runId, extend, events) in trials)
        {
            var timedOut = events.Any(e => Type(e) == "run.cancelled" && Value(e).GetProperty("reason_code").GetString() == "signal_timeout");
            var extended = events.Any(e => Type(e) == "run.input_extended");
            Assert.False(timedOut && extended, $"{runId}: both extended and timed out");
            Assert.Equal(extend.Status == 200, extended);
            Assert.True(extend.Status is 200 or 409, $"{runId}: {extend}");
            Assert.Equal(extend.Status == 409, timedOut);
        }

        Assert.Contains(trials, t => t.extend.Status == 200);
        Assert.Contains(trials, t => t.extend.Status == 409);
    }

    [Fact]
    public async Task TheInbox_ListsEveryPendingRequestOfTheTenant_SoonestFirst_Paged_AndNobodyElses()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var stranger = await host.NewTenantAsync();
        var runs = new List<string>();
        foreach (var timeout in new[] { 300, 100, 200 })
        {
            runs.Add(await api.CreateRunAsync(Plan($$$"""{"type":"data","prompt":"in {{{timeout}}}","timeout_seconds":{{{timeout}}},"response_schema":{"type":"object"}}""")));
        }

        var strangers = await stranger.CreateRunAsync(Plan("""{"type":"approval"}"""));
        foreach (var runId in runs)
        {
            await api.WaitForStatusAsync(runId, "awaiting_input");
        }

        await stranger.WaitForStatusAsync(strangers, "awaiting_input");

        var first = await api.GetAsync("/v1/requests?status=pending&limit=2");
        Assert.Equal(200, first.Status);
        var page1 = first.Json.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(["in 100", "in 200"], page1.Select(r => r.GetProperty("prompt").GetString()));
        Assert.Equal([runs[1], runs[2]], page1.Select(r => r.GetProperty("run_id").GetString()));
        Assert.Equal("object", page1[0].GetProperty("response_schema").GetProperty("type").GetString());
        var second = await api.GetAsync($"/v1/requests?status=pending&limit=2&cursor={first.Json.GetProperty("next_cursor").GetString()}");
        var page2 = second.Json.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal([runs[0]], page2.Select(r => r.GetProperty("run_id").GetString()));
        Assert.Equal(JsonValueKind.Null, second.Json.GetProperty("next_cursor").ValueKind);

        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runs[1]}/signal", """{"action":"submit_input","payload":{"a":1}}""")).Status);
        var after = (await api.GetAsync("/v1/requests?status=pending")).Json.GetProperty("data").EnumerateArray().Select(r => r.GetProperty("run_id").GetString()).ToList();
        Assert.Equal([runs[2], runs[0]], after);

        var theirs = (await stranger.GetAsync("/v1/requests?status=pending")).Json.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal([strangers], theirs.Select(r => r.GetProperty("run_id").GetString()));
        var requestId = page1[1].GetProperty("request_id").GetString();
        Assert.Equal(404, (await stranger.PostAsync($"/v1/runs/{runs[2]}/requests/{requestId}/extend", """{"extend_by_seconds":10}""")).Status);
    }

    [Fact]
    public async Task ARemoteRefInASchema_IsNeverFetched_AndTheSchemaIsRefused()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var accepted = listener.AcceptTcpClientAsync();

        var create = await api.PostAsync("/v1/runs", Plan($$$"""{"type":"data","response_schema":{"$ref":"http://127.0.0.1:{{port}}/schema.json"}}"""));

        Assert.Equal((400, "invalid_request"), (create.Status, create.ReasonCode));
        Assert.Contains("response_schema", create.Json.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await Task.Delay(500);
        Assert.False(accepted.IsCompleted, "the service connected to the schema's remote $ref");
    }

    [Fact]
    public async Task AnEvilPatternInASchema_CannotStallTheService()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan("""{"type":"data","response_schema":{"type":"object","properties":{"s":{"type":"string","pattern":"^(a+)+$"}}}}"""));
        await api.WaitForStatusAsync(runId, "awaiting_input");

        var timer = Stopwatch.StartNew();
        var answer = await api.PostAsync($"/v1/runs/{runId}/signal", "{\"action\":\"submit_input\",\"payload\":{\"s\":\"" + new string('a', 5000) + "b\"}}");

        Assert.Equal(422, answer.Status);
        Assert.True(timer.Elapsed < TimeSpan.FromSeconds(3), $"validation took {timer.Elapsed}");
    }

    public static IEnumerable<object[]> HostileSchemas() =>
    [
        ["""{"type":12}"""],
        ["""{"type":"strin"}"""],
        ["\"string\""],
        ["42"],
        ["""[{"type":"object"}]"""],
        ["""{"$ref":"#"}"""],
        ["""{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}"""],
        ["""{"$ref":"#/$defs/missing"}"""],
        ["""{"$ref":"https://example.com/schema.json"}"""],
        ["""{"$ref":"http://169.254.169.254/latest/meta-data"}"""],
        ["""{"$ref":"file:///etc/passwd"}"""],
        ["""{"$dynamicRef":"#meta"}"""],
        ["""{"if":{"type":"object"},"then":{"$ref":"#"}}"""],
        ["""{"type":"object","properties":{"x":{"if":{"type":"string"},"then":{"$ref":"#/properties/x"}}}}"""], // looped (stack overflow) at an answer {"x":"…"}
        ["""{"$schema":"http://json-schema.org/draft-07/schema#","type":"object"}"""],
        ["""{"type":"object","properties":{"a":{"$schema":"http://json-schema.org/draft-04/schema#"}}}"""],
        ["""{"type":"object","properties":{"a":{"type":"string","pattern":"(("}}}"""],
        ["""{"type":"object","properties":{"a":{"type":"string","pattern":"(a)\\1"}}}"""],
        ["""{"type":"object","properties":{"a":{"type":"string","pattern":"(?<=a)b"}}}"""],
        ["""{"type":"object","patternProperties":{"^x":{"type":"string"}}}"""],
        ["""{"type":"object","required":"to"}"""],
        ["""{"minLength":-1}"""],
        ["""{"enum":"a"}"""],
        ["""{"allOf":{}}"""],
        ["{\"type\":\"object\",\"description\":\"" + new string('x', 17_000) + "\"}"],
        ["""{"type":"object","properties":{"x":{"$ref":"#/properties/x"}}}"""],
        ["""{"type":"object","if":{"required":["x"]},"then":{"$ref":"https://evil.example/s.json"}}"""],
        ["""{"type":"object","properties":{"x":{"$ref":"#/$defs/missing"}}}"""],
        ["""{"type":"object","properties":{"x":{"enum":[1e400]}}}"""],
    ];

    [Theory]
    [MemberData(nameof(HostileSchemas))]
    public async Task AHostileSchema_IsRefusedAtCreate_AndNoRunIsMade(string schema)
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();

        var create = await api.PostAsync("/v1/runs", Plan($$"""{"type":"data","response_schema":{{schema}}}"""));

        Assert.True(create.Status is 400 or 413, create.ToString());
        Assert.True(create.ReasonCode is "invalid_request" or "payload_too_large", create.ToString());
        Assert.Empty((await api.GetAsync("/v1/runs")).Json.GetProperty("data").EnumerateArray());
    }

    public static IEnumerable<object[]> HostileAnswers() =>
    [
        ["""{"action":"submit_input","payload":{"to":42}}""", 422],
        ["""{"action":"submit_input","payload":{"cc":["a"]}}""", 422],
        ["""{"action":"submit_input","payload":{"to":"a@b","cc":"a@b"}}""", 422],
        ["""{"action":"submit_input","payload":{"to":"a@b","extra":true}}""", 422],
        ["""{"action":"submit_input","payload":{"to":"no-at-sign"}}""", 422],
        ["""{"action":"submit_input","payload":{"to":"a@b","cc":[{"x":1}]}}""", 422],
        ["""{"action":"submit_input","payload":{"to":null}}""", 422],
        ["""{"action":"submit_input","payload":{"TO":"a@b"}}""", 422],
        ["""{"action":"submit_input","payload":{"to":"a@b c@d"}}""", 422],
        ["""{"action":"submit_input","payload":"a@b"}""", 400],
        ["""{"action":"submit_input","payload":{}}""", 400],
        ["""{"action":"submit_input"}""", 400],
        ["""{"action":"approve","payload":{"arguments":{"to":"a@b"}}}""", 400],
    ];

    [Theory]
    [MemberData(nameof(HostileAnswers))]
    public async Task AnAnswerThatDoesNotFit_IsRefused_AndChangesNothing(string body, int status)
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan($$"""{"type":"data","response_schema":{{EmailSchema}},"allowed_actions":["submit_input","approve","reject"]}"""));
        await api.WaitForStatusAsync(runId, "awaiting_input");
        var before = await api.EventsAsync(runId);

        var answer = await api.PostAsync($"/v1/runs/{runId}/signal", body);

        Assert.Equal(status, answer.Status);
        Assert.True(answer.ReasonCode is "invalid_signal_payload" or "invalid_request", answer.ToString());
        Assert.Equal(before.Count, (await api.EventsAsync(runId)).Count);
        Assert.Equal("awaiting_input", (await api.GetAsync($"/v1/runs/{runId}")).Json.GetProperty("status").GetString());
    }

    [Fact]
    public async Task AnAnswerWithANumberTheValidatorCannotCompare_Is422WithItsPointer_NotA500()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan("""{"type":"data","response_schema":{"type":"object","properties":{"n":{"enum":[1,2,3]}}}}"""));
        await api.WaitForStatusAsync(runId, "awaiting_input");
        var before = await api.EventsAsync(runId);

        var answer = await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"submit_input","payload":{"n":1e30}}""");

        Assert.Equal((422, "invalid_signal_payload"), (answer.Status, answer.ReasonCode));
        Assert.Equal(["/n"], answer.Json.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("pointer").GetString()));
        Assert.Equal(before.Count, (await api.EventsAsync(runId)).Count);
    }

    public static IEnumerable<object[]> HostileExtensions() =>
    [
        ["{}", 400],
        ["""{"extend_by_seconds":10,"expires_at":"2030-01-01T00:00:00Z"}""", 400],
        ["""{"extend_by_seconds":0}""", 400],
        ["""{"extend_by_seconds":-5}""", 400],
        ["""{"extend_by_seconds":"10"}""", 400],
        ["""{"extend_by_seconds":1e12}""", 400],
        ["""{"expires_at":"tomorrow"}""", 400],
        ["""{"expires_at":"2030-01-01 00:00:00Z"}""", 400],
        ["""{"expires_at":"2030-01-01T00:00:00Z\n"}""", 400],
        ["""{"expires_at":"Tue, 01 Jan 2030 00:00:00 GMT"}""", 400],
        ["""{"expires_at":"2030-01-01T00:00:00"}""", 400],
        ["""{"expires_at":"2001-01-01T00:00:00Z"}""", 400],
        ["""{"expires_at":"2999-01-01T00:00:00Z"}""", 400],
        ["""{"expires_at":42}""", 400],
        ["""{"by":10}""", 400],
    ];

    [Theory]
    [MemberData(nameof(HostileExtensions))]
    public async Task ABadExtension_IsRefused_AndTheDeadlineStays(string body, int status)
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan("""{"type":"approval"}"""));
        var pending = (await api.WaitForStatusAsync(runId, "awaiting_input")).GetProperty("pending_input");

        var extend = await api.PostAsync($"/v1/runs/{runId}/requests/{pending.GetProperty("request_id").GetString()}/extend", body);

        Assert.Equal(status, extend.Status);
        Assert.Equal("invalid_request", extend.ReasonCode);
        var now = (await api.GetAsync($"/v1/runs/{runId}")).Json.GetProperty("pending_input");
        Assert.Equal(pending.GetProperty("expires_at").GetString(), now.GetProperty("expires_at").GetString());
        Assert.DoesNotContain("run.input_extended", Types(await api.EventsAsync(runId)));
    }

    [Fact]
    public async Task TheFiftyFirstExtendOfARequest_Is409ExtendLimitReached_AndLeavesTheDeadlineAlone()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan("""{"type":"approval","timeout_seconds":600}"""));
        var pending = (await api.WaitForStatusAsync(runId, "awaiting_input")).GetProperty("pending_input");
        var extend = $"/v1/runs/{runId}/requests/{pending.GetProperty("request_id").GetString()}/extend";
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal(200, (await api.PostAsync(extend, """{"extend_by_seconds":1}""")).Status);
        }

        var refused = await api.PostAsync(extend, """{"extend_by_seconds":1}""");

        Assert.Equal((409, "extend_limit_reached"), (refused.Status, refused.ReasonCode));
        var run = (await api.GetAsync($"/v1/runs/{runId}")).Json;
        Assert.Equal(
            DateTimeOffset.Parse(pending.GetProperty("expires_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture).AddSeconds(50),
            DateTimeOffset.Parse(run.GetProperty("pending_input").GetProperty("expires_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(50, (await api.EventsAsync(runId)).Count(e => Type(e) == "run.input_extended"));
        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);
    }

    [Theory]
    [InlineData("not-a-uuid", 400, "invalid_request")]
    [InlineData("00000000-0000-0000-0000-000000000000", 409, "run_not_awaiting_input")]
    public async Task ExtendingARequestThatIsNotPending_IsRefused(string requestId, int status, string reasonCode)
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan("""{"type":"approval"}"""));
        await api.WaitForStatusAsync(runId, "awaiting_input");

        var extend = await api.PostAsync($"/v1/runs/{runId}/requests/{requestId}/extend", """{"extend_by_seconds":10}""");

        Assert.Equal((status, reasonCode), (extend.Status, extend.ReasonCode));
    }

    [Theory]
    [InlineData("yyyy-MM-ddTHH:mm:ss.fffZ", "")]            // what this service writes
    [InlineData("yyyy-MM-ddTHH:mm:ss.fffffff", "Z")]        // .NET's "o"
    [InlineData("yyyy-MM-ddTHH:mm:ss.fff", "123456Z")]      // Go's RFC3339Nano: nine fraction digits
    [InlineData("yyyy-MM-ddTHH:mm", "Z")]                   // Java's OffsetDateTime.toString() leaves out :00 seconds
    [InlineData("yyyy-MM-ddTHH:mm:ss", "+00:00")]
    public async Task AnExtendTo_TakesTheTimestampsClientsWrite_AndAnUpperCaseRequestId(string format, string suffix)
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan("""{"type":"approval"}"""));
        var pending = (await api.WaitForStatusAsync(runId, "awaiting_input")).GetProperty("pending_input");
        var requestId = pending.GetProperty("request_id").GetString()!.ToUpperInvariant();
        var to = DateTimeOffset.UtcNow.AddHours(2);
        var text = to.UtcDateTime.ToString(format, System.Globalization.CultureInfo.InvariantCulture) + suffix;

        var extend = await api.PostAsync($"/v1/runs/{runId}/requests/{requestId}/extend", $$"""{"expires_at":"{{text}}"}""");

        Assert.Equal(200, extend.Status);
        var moved = DateTimeOffset.Parse(extend.Json.GetProperty("expires_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(moved, to.AddMinutes(-1), to.AddSeconds(1));
    }
}
