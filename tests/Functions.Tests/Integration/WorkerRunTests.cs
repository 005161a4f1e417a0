using System.Net;
using System.Text.Json;
using AgentRuns.Functions.Agents;
using AgentRuns.Functions.Tests.Support;
using AgentRuns.Functions.Workers;
using Microsoft.Extensions.DependencyInjection;
using static AgentRuns.Functions.Tests.Support.RunAssertions;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>
/// Runs whose agent is an HTTP worker, in the Durable test host with real tables: the service's real worker client (resilience
/// handler, per-attempt signing, size bound) over <see cref="ScriptedWorkers"/> instead of sockets (the socket path, the URL guard
/// and the sample worker are tested end to end over the local host). Test host settings: 5 s per attempt, 2 retries, 64 KiB.
/// </summary>
public sealed class WorkerRunTests
{
    private const string Work = """{"type":"work","tool":"draft_email","summary":"Drafted the update."}""";
    private const string Finish = """{"type":"finish","output":{"done":true}}""";

    [Fact]
    public async Task TheWorkersAnswers_DriveTheRun_AndEachCallIsSignedAndCarriesItsStepAndTheAnswersSoFar()
    {
        var (host, api, path, secret) = await WorkerAsync();
        host.Workers.AnswerJson(path, (call, n) => n switch
        {
            0 => Work,
            1 => """
                {"type":"approval","prompt":"Send it?","action":{"tool":"send_email","arguments":{"to":"a@example.com","subject":"S"}},
                 "allow_edits":true,"allowed_actions":["approve","reject"],"reminders":[30],
                 "response_schema":{"type":"object","properties":{"to":{"type":"string"},"subject":{"type":"string"}},"additionalProperties":false}}
                """,
            _ => """{"type":"finish","output":{"sent":""" + call.Json.GetProperty("answers")[0].GetProperty("approved_action").GetRawText() + "}}",
        });
        var runId = await api.CreateRunAsync(RunWith(path, """{"goal":"Send the weekly update","to":"a@example.com"}"""));

        var pending = (await api.WaitForStatusAsync(runId, "awaiting_input")).GetProperty("pending_input");
        Assert.Equal("Send it?", pending.GetProperty("prompt").GetString());
        Assert.Equal("send_email", pending.GetProperty("proposed_action").GetProperty("tool").GetString());
        Assert.True(pending.GetProperty("allow_edits").GetBoolean());
        Assert.Equal(["approve", "reject"], pending.GetProperty("allowed_actions").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal([30], pending.GetProperty("reminders").EnumerateArray().Select(r => r.GetInt32()));
        var refused = await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve","payload":{"arguments":{"cc":"x"}}}""");
        Assert.Equal(422, refused.Status); // the worker's response_schema holds
        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve","payload":{"arguments":{"to":"b@example.com","subject":"S2"}}}""")).Status);
        var events = await api.WaitForEndAsync(runId);

        Assert.Equal(["run.created", "run.started", "run.worker.progress", "run.awaiting_input", "run.signal_received", "run.worker.succeeded"], Types(events));
        Assert.Equal("draft_email", Value(events[2]).GetProperty("tool").GetString());
        var sent = Value(events[^1]).GetProperty("output").GetProperty("sent");
        Assert.Equal("b@example.com", sent.GetProperty("arguments").GetProperty("to").GetString());

        var calls = host.Workers.CallsTo(path);
        Assert.Equal([0, 1, 2], calls.Select(c => c.StepIndex));
        var suffix = runId["run_".Length..];
        Assert.Equal([$"step_{suffix}_0", $"step_{suffix}_1", $"step_{suffix}_2"], calls.Select(c => c.Id));
        Assert.All(calls, c =>
        {
            Assert.True(c.SignedWith(secret), $"call {c.Id} is not signed with the worker's secret");
            Assert.False(c.SignedWith(Webhooks.WebhookIds.NewSecret()));
            Assert.Equal("agent.step", c.Json.GetProperty("type").GetString());
            Assert.Equal(runId, c.Json.GetProperty("run_id").GetString());
            Assert.Equal(c.Id, c.Json.GetProperty("idempotency_key").GetString());
            Assert.Equal(path, c.Json.GetProperty("worker").GetString());
            Assert.Equal("a@example.com", c.Json.GetProperty("input").GetProperty("to").GetString());
            Testing.Contract.ApiContract.Default.Evaluate("/components/schemas/WorkerStepRequest", c.Json, "the step request");
        });
        Assert.Empty(calls[1].Json.GetProperty("answers").EnumerateArray());
        var answer = Assert.Single(calls[2].Json.GetProperty("answers").EnumerateArray());
        Assert.Equal(pending.GetProperty("request_id").GetString(), answer.GetProperty("request_id").GetString());
        Assert.Equal("approval", answer.GetProperty("input_kind").GetString());
        Assert.Equal("Send it?", answer.GetProperty("prompt").GetString());
        Assert.Equal("approve", answer.GetProperty("action").GetString());
        Assert.Equal("S2", answer.GetProperty("approved_action").GetProperty("arguments").GetProperty("subject").GetString());
        Assert.StartsWith("key_", answer.GetProperty("actor").GetProperty("key_id").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AWait_CallsTheWorkerAgainLater_WithTheNextStepIndex_AndWritesNoEvent()
    {
        var (host, api, path, _) = await WorkerAsync();
        host.Workers.AnswerInOrder(path, """{"type":"wait","seconds":1}""", Finish);

        var runId = await api.CreateRunAsync(RunWith(path));
        var events = await api.WaitForEndAsync(runId);

        Assert.Equal(["run.created", "run.started", "run.worker.succeeded"], Types(events));
        var calls = host.Workers.CallsTo(path);
        Assert.Equal([0, 1], calls.Select(c => c.StepIndex));
        Assert.True(calls[1].At - calls[0].At >= TimeSpan.FromMilliseconds(900), $"called again after {(calls[1].At - calls[0].At).TotalMilliseconds} ms");
    }

    [Fact]
    public async Task SecretLookingFields_OfTheWorkersAnswers_AreMaskedInTheLog_WhileTheWorkerGetsWhatTheHumanSent()
    {
        var (host, api, path, _) = await WorkerAsync();
        host.Workers.AnswerInOrder(
            path,
            """{"type":"data","prompt":"Which database?"}""",
            """{"type":"approval","prompt":"Deploy?","action":{"tool":"deploy","arguments":{"api_token":"tok-123","target":"prod"}}}""",
            """{"type":"finish","output":{"db_password":"out-pw-789","ok":true}}""");
        var runId = await api.CreateRunAsync(RunWith(path));

        await api.WaitForStatusAsync(runId, "awaiting_input");
        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"submit_input","payload":{"db_password":"hunter2","user":"ops"}}""")).Status);
        var approval = await Eventually.GetAsync(
            () => api.GetAsync($"/v1/runs/{runId}"), r => r.Json.GetProperty("pending_input") is { ValueKind: JsonValueKind.Object } p && p.GetProperty("input_kind").GetString() == "approval");
        Assert.Equal("[REDACTED]", approval.Json.GetProperty("pending_input").GetProperty("proposed_action").GetProperty("arguments").GetProperty("api_token").GetString());
        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);
        var events = await api.WaitForEndAsync(runId);

        var log = string.Join("\n", events.Select(e => e.GetRawText())) + (await api.GetAsync($"/v1/runs/{runId}")).Body;
        foreach (var secret in new[] { "hunter2", "tok-123", "out-pw-789" })
        {
            Assert.DoesNotContain(secret, log, StringComparison.Ordinal);
        }

        var awaiting = events.Where(e => Type(e) == "run.awaiting_input").ToList();
        Assert.False(awaiting[0].GetProperty("payload").GetProperty("redacted").GetBoolean());
        Assert.True(awaiting[1].GetProperty("payload").GetProperty("redacted").GetBoolean());
        Assert.Equal("prod", Value(awaiting[1]).GetProperty("proposed_action").GetProperty("arguments").GetProperty("target").GetString());
        Assert.True(events[^1].GetProperty("payload").GetProperty("redacted").GetBoolean());
        Assert.Equal("[REDACTED]", Value(events[^1]).GetProperty("output").GetProperty("db_password").GetString());
        Assert.True(Value(events[^1]).GetProperty("output").GetProperty("ok").GetBoolean());

        // The worker is the run's agent: it gets the human's input as sent, and the approved action as the approver saw it.
        var calls = host.Workers.CallsTo(path);
        Assert.Equal("hunter2", calls[1].Json.GetProperty("answers")[0].GetProperty("payload").GetProperty("db_password").GetString());
        Assert.Equal("[REDACTED]", calls[2].Json.GetProperty("answers")[1].GetProperty("approved_action").GetProperty("arguments").GetProperty("api_token").GetString());
    }

    public static TheoryData<string, string> MalformedAnswers => new()
    {
        { "<html>Internal error</html>", "is not JSON" },
        { "", "it is empty" },
        { """{"type":"approval","allow_edits":"yes"}""", "allow_edits must be true or false" },
        { """{"type":"finish","outptu":{}}""", "a finish answer has no member 'outptu'" },
        { """{"type":"sleep","seconds":5}""", "type must be one of work, approval, clarification, data, finish, fail, wait" },
    };

    [Theory]
    [MemberData(nameof(MalformedAnswers))]
    public async Task AMalformedAnswer_EndsTheRunFailedWithAgentError_SayingWhatIsWrong_WithoutRetrying(string answer, string what)
    {
        var (host, api, path, _) = await WorkerAsync();
        host.Workers.AnswerInOrder(path, answer);

        var runId = await api.CreateRunAsync(RunWith(path));
        var events = await api.WaitForEndAsync(runId);

        Assert.Equal("run.worker.failed", Type(events[^1]));
        Assert.Equal("agent_error", Value(events[^1]).GetProperty("reason_code").GetString());
        var reason = Value(events[^1]).GetProperty("reason").GetString()!;
        Assert.Contains(what, reason, StringComparison.Ordinal);
        Assert.Contains($"The worker '{path}' answered step 0", reason, StringComparison.Ordinal);
        Assert.Single(host.Workers.CallsTo(path));
    }

    [Theory]
    [InlineData(500, 3, "It answered HTTP 500 (3 attempts).")]
    [InlineData(429, 3, "It answered HTTP 429 (3 attempts).")]
    [InlineData(401, 1, "It answered HTTP 401 (not retried")]
    [InlineData(404, 1, "It answered HTTP 404 (not retried")]
    [InlineData(302, 1, "It answered HTTP 302; redirects are not followed.")]
    public async Task AWorkerThatKeepsFailing_EndsTheRunWithAgentError_AfterTheRetriesThatStatusGets(int status, int calls, string what)
    {
        var (host, api, path, _) = await WorkerAsync();
        host.Workers.Answer(path, (_, _) => Task.FromResult(new HttpResponseMessage((HttpStatusCode)status)));

        var runId = await api.CreateRunAsync(RunWith(path));
        var events = await api.WaitForEndAsync(runId);

        Assert.Equal("agent_error", Value(events[^1]).GetProperty("reason_code").GetString());
        Assert.Contains($"The worker '{path}' failed at step 0: {what}", Value(events[^1]).GetProperty("reason").GetString(), StringComparison.Ordinal);
        var made = host.Workers.CallsTo(path);
        Assert.Equal(calls, made.Count);
        Assert.Single(made.Select(c => c.Id).Distinct());
        Assert.Single(made.Select(c => c.Body).Distinct());
    }

    [Fact]
    public async Task A503ThenAnAnswer_IsRetriedWithTheSameIdempotencyKey_AndTheRunGoesOn()
    {
        var (host, api, path, secret) = await WorkerAsync();
        host.Workers.Answer(path, (_, n) => Task.FromResult(n < 2
            ? new HttpResponseMessage(HttpStatusCode.ServiceUnavailable)
            : ScriptedWorkers.Json(Finish)));

        var runId = await api.CreateRunAsync(RunWith(path));
        var events = await api.WaitForEndAsync(runId);

        Assert.Equal("run.worker.succeeded", Type(events[^1]));
        var made = host.Workers.CallsTo(path);
        Assert.Equal(3, made.Count);
        Assert.Single(made.Select(c => c.Id).Distinct());
        Assert.All(made, c => Assert.True(c.SignedWith(secret)));
    }

    [Fact]
    public async Task AnAnswerWithAByteOrderMark_IsRead()
    {
        var (host, api, path, _) = await WorkerAsync();
        host.Workers.Answer(path, (_, _) =>
        {
            var content = new ByteArrayContent([0xEF, 0xBB, 0xBF, .. System.Text.Encoding.UTF8.GetBytes(Finish)]);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = content });
        });

        var runId = await api.CreateRunAsync(RunWith(path));
        var events = await api.WaitForEndAsync(runId);

        Assert.Equal("run.worker.succeeded", Type(events[^1]));
    }

    [Fact]
    public async Task AnAnswerLargerThanTheLimit_EndsTheRunWithAgentError()
    {
        var (host, api, path, _) = await WorkerAsync();
        var big = "{\"type\":\"finish\",\"output\":{\"text\":\"" + new string('x', 70_000) + "\"}}";
        host.Workers.AnswerInOrder(path, big);

        var runId = await api.CreateRunAsync(RunWith(path));
        var events = await api.WaitForEndAsync(runId);

        Assert.Equal("agent_error", Value(events[^1]).GetProperty("reason_code").GetString());
        Assert.Contains("at most 65536 are read", Value(events[^1]).GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AWorkerDeletedWhileItsRunWaits_EndsTheRunAtItsNextStep()
    {
        var (host, api, path, _) = await WorkerAsync();
        host.Workers.AnswerInOrder(path, """{"type":"approval"}""", Finish);
        var runId = await api.CreateRunAsync(RunWith(path));
        await api.WaitForStatusAsync(runId, "awaiting_input");

        Assert.Equal(204, (await api.DeleteAsync($"/v1/workers/{path}")).Status);
        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);
        var events = await api.WaitForEndAsync(runId);

        Assert.Equal("agent_error", Value(events[^1]).GetProperty("reason_code").GetString());
        Assert.Equal($"The worker '{path}' is no longer registered.", Value(events[^1]).GetProperty("reason").GetString());
        Assert.Single(host.Workers.CallsTo(path));
    }

    [Fact]
    public async Task ARetriedStep_ReturnsTheStoredDecision_WithoutCallingTheWorkerAgain()
    {
        var (host, api, path, _) = await WorkerAsync();
        host.Workers.AnswerJson(path, (call, _) => $$"""{"type":"work","summary":"call {{call.StepIndex}} at {{call.At:O}}"}""");
        var agent = host.Services.GetRequiredService<WorkerAgent>();
        var step = new AgentStepInput("run_" + Guid.NewGuid().ToString("N")[..26], """{"goal":"g"}""", 0, [], api.TenantId, WorkerNames.Agent(path));

        var first = await agent.DecideAsync(step, CancellationToken.None);
        var again = await agent.DecideAsync(step, CancellationToken.None);
        var next = await agent.DecideAsync(step with { StepIndex = 1 }, CancellationToken.None);

        Assert.Equal(first.Summary, again.Summary);
        Assert.NotEqual(first.Summary, next.Summary);
        Assert.Equal([0, 1], host.Workers.CallsTo(path).Select(c => c.StepIndex));
    }

    [Fact]
    public async Task ARunPastMaxSteps_EndsWithAgentTurnLimit_WithoutCallingTheWorker()
    {
        var (host, api, path, _) = await WorkerAsync();
        host.Workers.AnswerInOrder(path, Work);
        var agent = host.Services.GetRequiredService<WorkerAgent>();
        var max = new WorkerOptions().MaxSteps;

        var decision = await agent.DecideAsync(
            new AgentStepInput("run_" + Guid.NewGuid().ToString("N")[..26], """{"goal":"g"}""", max, [], api.TenantId, WorkerNames.Agent(path)),
            CancellationToken.None);

        Assert.Equal(AgentDecisionKind.Fail, decision.Kind);
        Assert.Equal("agent_turn_limit", decision.ReasonCode);
        Assert.Empty(host.Workers.CallsTo(path));
    }

    [Fact]
    public async Task AStepThatCannotReachStorageForLongerThanItsRetries_WaitsTheOutageOut_AndTheRunSucceeds()
    {
        var (host, api, path, _) = await WorkerAsync();
        host.Workers.AnswerJson(path, (call, n) =>
        {
            if (n == 0)
            {
                // As the worker answers the first step, storage goes away for this run's rows: the step cannot store its
                // decision, and the run cannot be read. It stays away until the orchestration says it waits it out, that is,
                // past all of the step's own retries, however long they took.
                host.Outage.Begin(api.TenantId, call.Json.GetProperty("run_id").GetString()!);
            }

            return call.StepIndex == 0 ? Work : Finish;
        });
        var runId = await api.CreateRunAsync(RunWith(path));

        await Eventually.GetAsync(
            () => Task.FromResult(CapturingLoggerProvider.Instance.Lines.Any(l => l.Contains(runId, StringComparison.Ordinal) && l.Contains(WaitsForStorage, StringComparison.Ordinal))),
            waits => waits,
            TimeSpan.FromSeconds(60),
            what: "the orchestration to wait for storage");
        host.Outage.End(api.TenantId, runId);
        var events = await api.WaitForEndAsync(runId, TimeSpan.FromSeconds(60));

        Assert.Equal(["run.created", "run.started", "run.worker.progress", "run.worker.succeeded"], Types(events));
        Assert.True(host.Outage.Refused > 0);
    }

    [Fact]
    public async Task ControlCharactersAndOddUnicodeInAnAnswer_AreKeptAsText_AndTheRunGoesOn()
    {
        var (host, api, path, _) = await WorkerAsync();
        host.Workers.AnswerInOrder(
            path,
            """{"type":"work","tool":"t\u0000\u0001","summary":"a\u0000b\uFFFF\u2028c\uD83D\uDE00"}""",
            """{"type":"approval","prompt":"p\u0000\u001F?","action":{"tool":"x\u0000","arguments":{"k\u0000":"v\u0000"}}}""",
            """{"type":"finish","output":{"k\u0000":"v\u0000\uFFFE"}}""");

        var runId = await api.CreateRunAsync(RunWith(path));
        var pending = (await api.WaitForStatusAsync(runId, "awaiting_input")).GetProperty("pending_input");
        Assert.Equal("p\u0000\u001F?", pending.GetProperty("prompt").GetString());
        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);
        var events = await api.WaitForEndAsync(runId);

        Assert.Equal("run.worker.succeeded", Type(events[^1]));
        Assert.Equal("a\u0000b\uFFFF\u2028c\uD83D\uDE00", Value(events[2]).GetProperty("summary").GetString());
        Assert.Equal("v\u0000\uFFFE", Value(events[^1]).GetProperty("output").GetProperty("k\u0000").GetString());
    }

    [Fact]
    public async Task AnAnswerThatTricklesInByteByByte_IsCutOffAtTheAttemptsTimeout_AndEndsTheRunWithAgentError()
    {
        var (host, api, path, _) = await WorkerAsync();
        host.Workers.Answer(path, (_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = new StreamContent(new TrickleStream("""{"type":"finish","output":{"text":"never ends""", TimeSpan.FromMilliseconds(100))),
        }));

        var timer = System.Diagnostics.Stopwatch.StartNew();
        var runId = await api.CreateRunAsync(RunWith(path));
        var events = await api.WaitForEndAsync(runId, TimeSpan.FromSeconds(30));

        Assert.Equal("agent_error", Value(events[^1]).GetProperty("reason_code").GetString());
        Assert.Contains("did not arrive in full within 5 s", Value(events[^1]).GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.True(timer.Elapsed < TimeSpan.FromSeconds(15), $"the trickling answer held the step for {timer.Elapsed}");
        Assert.Single(host.Workers.CallsTo(path));
    }

    /// <summary>A body that sends its text one byte at a time, then one space at a time for ever.</summary>
    private sealed class TrickleStream(string text, TimeSpan every) : Stream
    {
        private readonly byte[] _bytes = System.Text.Encoding.UTF8.GetBytes(text);
        private int _sent;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _sent; set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Delay(every, cancellationToken);
            buffer.Span[0] = _sent < _bytes.Length ? _bytes[_sent] : (byte)' ';
            _sent++;
            return 1;
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>What the orchestration logs (and nothing else does) when a step failed for storage and it waits to ask again.</summary>
    private const string WaitsForStorage = "could not reach storage; asking the agent again";

    /// <summary>A tenant of its own with a worker registered at a scripted URL: the worker's name is the URL's path.</summary>
    private static async Task<(RunsTestHost Host, ApiClient Api, string Path, string Secret)> WorkerAsync()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var url = ScriptedWorkers.NewUrl(out var path);
        var created = await api.PostAsync("/v1/workers", $$"""{"name":"{{path}}","url":"{{url}}"}""");
        Assert.True(created.Status == 201, created.ToString());
        return (host, api, path, created.Json.GetProperty("secret").GetString()!);
    }

    private static string RunWith(string worker, string input = """{"goal":"g"}""") => $$"""{"input":{{input}},"agent":"worker:{{worker}}"}""";
}
