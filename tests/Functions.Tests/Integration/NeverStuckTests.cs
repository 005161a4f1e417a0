using System.Text;
using System.Text.Json;
using AgentRuns.Functions.Idempotency;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Orchestrations;
using AgentRuns.Functions.Runs;
using AgentRuns.Functions.Storage;
using AgentRuns.Functions.Streaming;
using AgentRuns.Functions.Tests.Support;
using Azure.Data.Tables;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Moq;
using static AgentRuns.Functions.Tests.Support.RunAssertions;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>
/// "Never stuck, never lost": each defect found in review, driven through the real HTTP functions, orchestration and tables.
/// Every run ends with a terminal event and a contiguous log, and an accepted answer always lands.
/// </summary>
public sealed class NeverStuckTests
{
    private const string Approval = """{"type":"approval","prompt":"Send it?"}""";
    private const string Data = """{"type":"data","prompt":"Paste it"}""";

    // --- 1. What the API accepts is storable, byte for byte ---------------------------------------------------------------

    [Fact]
    public async Task APlainTextAnswerOf16KB_IsAccepted_AndTheRunEndsWithIt()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan(Data));
        await api.WaitForStatusAsync(runId, "awaiting_input");
        var text = string.Concat(Enumerable.Repeat("\"quoted\" text + more, ", 750)); // 16,500 characters

        var signal = await api.PostAsync($"/v1/runs/{runId}/signal", JsonSerializer.Serialize(new { action = "submit_input", payload = new { text } }, Relaxed));

        Assert.Equal(202, signal.Status);
        var events = await api.WaitForEndAsync(runId);
        Assert.Equal("run.worker.succeeded", Type(events[^1]));
        Assert.Equal(text, Value(events[^1]).GetProperty("output").GetProperty("human_inputs")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task AGoalOf6000AccentedCharacters_RunsToTheEnd()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var goal = new string('é', 6000);
        var runId = await api.CreateRunAsync(JsonSerializer.Serialize(new { input = new { goal, plan = new object[] { new { type = "work" } } } }, Relaxed));

        var events = await api.WaitForEndAsync(runId);

        Assert.Equal("run.worker.succeeded", Type(events[^1]));
        Assert.Equal(goal, Value(events[0]).GetProperty("input").GetProperty("goal").GetString());
    }

    [Fact]
    public async Task ThreeAnswersOf11KB_TheRunStillEnds_WithAllOfThemInItsOutput()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan(Data, Data, Data));
        for (var i = 0; i < 3; i++)
        {
            var request = await WaitForRequestAsync(api, runId, i + 1);
            var answer = JsonSerializer.Serialize(new { action = "submit_input", request_id = request, payload = new { part = i, text = new string('<', 11_000) } }, Relaxed);
            Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", answer)).Status);
        }

        var events = await api.WaitForEndAsync(runId);
        Assert.Equal("run.worker.succeeded", Type(events[^1]));
        Assert.Equal(3, Value(events[^1]).GetProperty("output").GetProperty("human_inputs").GetArrayLength());
    }

    [Fact]
    public async Task AFinishOutputFullOfAngleBrackets_IsStored_AndTheTerminalEventWritten()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var html = string.Concat(Enumerable.Repeat("<p>&amp;</p>", 2000));
        var runId = await api.CreateRunAsync(Plan(JsonSerializer.Serialize(new { type = "finish", output = new { html } }, Relaxed)));

        var events = await api.WaitForEndAsync(runId);

        Assert.Equal("run.worker.succeeded", Type(events[^1]));
        var run = await api.WaitForStatusAsync(runId, "succeeded");
        Assert.Equal(html, run.GetProperty("output").GetProperty("html").GetString());
    }

    [Fact]
    public async Task AGoalOf16500Characters_WaitsForApproval_AndEndsWhenApproved()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var goal = new string('g', 16_500);
        var runId = await api.CreateRunAsync(JsonSerializer.Serialize(new { input = new { goal } }, Relaxed));

        await api.WaitForStatusAsync(runId, "awaiting_input");
        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);

        Assert.Equal("run.worker.succeeded", Type((await api.WaitForEndAsync(runId))[^1]));
    }

    [Fact]
    public async Task ABodyAtTheLimit_OfCjkAndEscapableText_RoundTripsByteForByte()
    {
        var host = await RunsTestHost.GetAsync();
        var api = host.Api;

        // As large as a body may be, in the characters that grow most when re-escaped; with an escape of the client's own.
        var goalBody = FillTo(RunLimits.MaxBodyBytes, "{\"input\":{\"goal\":\"\\u00e9 ", "\",\"plan\":[" + Data + "]}}");
        var create = await api.PostAsync("/v1/runs", goalBody);
        Assert.Equal(201, create.Status);
        var runId = create.Json.GetProperty("id").GetString()!;
        var inputText = RawMember(goalBody, "input");
        Assert.Equal(inputText, RawMember(create.Body, "input"));

        var request = await WaitForRequestAsync(api, runId, 1);
        var answerBody = FillTo(RunLimits.MaxBodyBytes, "{\"action\":\"submit_input\",\"request_id\":\"" + request + "\",\"payload\":{\"text\":\"", "\"}}");
        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", answerBody)).Status);
        var payloadText = RawMember(answerBody, "payload");

        var events = await api.WaitForEndAsync(runId);
        var page = (await api.GetAsync($"/v1/runs/{runId}/events?limit=1000")).Body;
        Assert.Contains(inputText, page, StringComparison.Ordinal);
        Assert.Contains(payloadText, page, StringComparison.Ordinal);

        var stream = await api.GetAsync($"/v1/runs/{runId}/events/stream");
        var frames = SseFrames.Parse(stream.Body);
        Assert.Equal(events.Count, frames.Count);
        Assert.Equal(inputText, RawMember(RawMember(frames[0].RawData, "payload"), "value", "input"));
        Assert.Contains(payloadText, stream.Body, StringComparison.Ordinal);

        var run = await api.GetAsync($"/v1/runs/{runId}");
        Assert.True(run.Json.GetProperty("status").GetString() == "succeeded", run.Body[..Math.Min(run.Body.Length, 2000)]);
        Assert.Equal(inputText, RawMember(run.Body, "input"));
        Assert.Contains(payloadText, RawMember(run.Body, "output"), StringComparison.Ordinal);
    }

    // --- 2. A run whose orchestration died is ended by the repairer -------------------------------------------------------

    [Fact]
    public async Task ARunWhoseOrchestrationWasTerminated_IsEndedWithEngineError_AndAContiguousLog()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var runId = await api.CreateRunAsync(Plan(Approval));
        await api.WaitForStatusAsync(runId, "awaiting_input");
        await host.Client.TerminateInstanceAsync(runId);
        await Eventually.GetAsync(() => host.Engine.GetStateAsync(runId), s => s.State == EngineState.Gone, what: "the orchestration to be terminated");

        var signal = await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""");
        Assert.Equal(202, signal.Status); // accepted by the record; nobody consumes it...
        await host.Repairer(TimeSpan.FromSeconds(31)).RunOnceAsync(host.Engine, CancellationToken.None, Mine(api));

        var events = await api.WaitForEndAsync(runId);
        Assert.Equal("run.worker.failed", Type(events[^1]));
        Assert.Equal("engine_error", Value(events[^1]).GetProperty("reason_code").GetString());
        Assert.Equal(409, (await api.PostAsync($"/v1/runs/{runId}/cancel", null)).Status);
    }

    // --- 3. An accepted answer always lands ---------------------------------------------------------------------------------

    [Fact]
    public async Task AnAcceptedSignalThatWasNeverRaised_IsRaisedAgainByTheRepairer_AndTheRunGoesOn()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var runId = await api.CreateRunAsync(Plan(Approval));
        await api.WaitForStatusAsync(runId, "awaiting_input");
        var lost = new Mock<IRunEngine>(); // the raise is lost: the process died, or the client left, right after the write

        var accepted = await host.Services.GetRequiredService<RunService>().SignalAsync(
            Caller(api), runId, new SignalRequest(SignalActions.Approve, null, null), lost.Object, seed: null, CancellationToken.None);
        Assert.Equal("accepted", accepted.Status);
        await Task.Delay(300);
        Assert.Equal("running", (await api.GetAsync($"/v1/runs/{runId}")).Json.GetProperty("status").GetString());
        Assert.DoesNotContain("run.worker.succeeded", Types(await api.EventsAsync(runId)));

        var pass = await host.Repairer(TimeSpan.FromSeconds(31)).RunOnceAsync(host.Engine, CancellationToken.None, Mine(api));

        Assert.True(pass.Raised >= 1, $"the repairer raised nothing: {pass}");
        Assert.Equal("run.worker.succeeded", Type((await api.WaitForEndAsync(runId))[^1]));
    }

    [Fact]
    public async Task ARetryWithTheSameKey_WhoseOwnSignalWon_GetsTheSame202_NotA409()
    {
        var host = await RunsTestHost.GetAsync();
        var api = host.Api;
        var runId = await api.CreateRunAsync(Plan(Approval));
        await api.WaitForStatusAsync(runId, "awaiting_input");
        var key = new Dictionary<string, string> { ["Idempotency-Key"] = Guid.NewGuid().ToString() };
        var first = await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""", key);
        Assert.Equal(202, first.Status);

        // The stored response was lost (the process died before storing it): the key is held by an attempt that is gone.
        var row = IdempotencyStore.RowKeyFor("POST", $"/v1/runs/{runId}/signal", key["Idempotency-Key"]);
        var claim = (await host.Tables.Idempotency.GetEntityAsync<TableEntity>(api.TenantId, row)).Value;
        claim["State"] = IdempotencyEntity.InFlight;
        claim["LockedUntil"] = DateTimeOffset.UtcNow.AddSeconds(-1);
        claim.Remove("Body");
        await host.Tables.Idempotency.UpdateEntityAsync(claim, claim.ETag, TableUpdateMode.Replace);

        var retry = await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""", key);

        Assert.Equal(202, retry.Status);
        Assert.Equal(first.Json.GetProperty("request_id").GetString(), retry.Json.GetProperty("request_id").GetString());
        Assert.Equal(first.Json.GetProperty("accepted_at").GetString(), retry.Json.GetProperty("accepted_at").GetString());
        Assert.Single(await api.EventsAsync(runId), e => Type(e) == "run.signal_received");
    }

    // --- 5. A stream that resumes just before the end gets the end ----------------------------------------------------------

    [Fact]
    public async Task AStreamResumedWhileTheRunEnds_AlwaysDeliversTheTerminalEvent()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runs = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            runs.Add(await api.CreateRunAsync(Plan(Approval, """{"type":"work"}""", """{"type":"work"}""")));
        }

        await Task.WhenAll(runs.Select(async runId =>
        {
            await api.WaitForStatusAsync(runId, "awaiting_input");
            Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);

            // A client that polls the log, and the moment the run says it has ended, resumes its stream after what it has
            // seen: the stream must bring the terminal event, not end empty.
            while (true)
            {
                var seen = (await api.EventsAsync(runId)).Select(e => e.GetProperty("seq").GetInt64()).DefaultIfEmpty(0).Max();
                var run = await api.GetAsync($"/v1/runs/{runId}");
                if (run.Json.GetProperty("status").GetString() is not ("succeeded" or "failed" or "cancelled"))
                {
                    continue;
                }

                var resumed = await api.GetAsync(
                    $"/v1/runs/{runId}/events/stream", new Dictionary<string, string> { ["Last-Event-ID"] = seen.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                var log = await api.EventsAsync(runId);
                var frames = SseFrames.Parse(resumed.Body);
                Assert.Equal(log.Where(e => e.GetProperty("seq").GetInt64() > seen).Select(e => e.GetProperty("seq").GetInt64()), frames.Select(f => f.Data.GetProperty("seq").GetInt64()));
                Assert.True(seen == log.Count || frames.Count > 0, $"{runId}: resumed after seq {seen} of {log.Count} and got an empty stream");
                return;
            }
        }));
    }

    // --- 6. The clock decides the deadline ----------------------------------------------------------------------------------

    [Fact]
    public async Task ASignalAfterExpiresAt_Is409_EvenBeforeTheTimerActs()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(PlanWithTimeout(2, Approval));
        var expiresAt = DateTimeOffset.Parse(
            Value(await api.WaitForEventAsync(runId, "run.awaiting_input")).GetProperty("expires_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        var wait = expiresAt - DateTimeOffset.UtcNow;
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait);
        }

        var late = await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""");

        Assert.Equal(409, late.Status);
        Assert.Equal("run_not_awaiting_input", late.ReasonCode);
        var events = await api.WaitForEndAsync(runId);
        Assert.Equal("signal_timeout", Value(events[^1]).GetProperty("reason_code").GetString());
        Assert.DoesNotContain("run.signal_received", Types(events));
    }

    // --- 7. Create never loses a run, and a run that never started is started ------------------------------------------------

    [Fact]
    public async Task ACreateWhoseStartFailed_IsStillCreated_AndTheRepairerStartsIt()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var down = new Mock<IRunEngine>();
        down.Setup(e => e.StartAsync(It.IsAny<RunOrchestrationInput>())).ReturnsAsync(false);

        var run = await host.Services.GetRequiredService<RunService>().CreateAsync(
            Caller(api), new CreateRunRequest("""{"goal":"g","plan":[{"type":"approval"}]}""", null, null), down.Object, seed: null, CancellationToken.None);
        Assert.Equal("queued", (await api.GetAsync($"/v1/runs/{run.Id}")).Json.GetProperty("status").GetString());

        var pass = await host.Repairer(TimeSpan.FromSeconds(61)).RunOnceAsync(host.Engine, CancellationToken.None, Mine(api));

        Assert.True(pass.Started >= 1, $"the repairer started nothing: {pass}");
        await api.WaitForStatusAsync(run.Id, "awaiting_input");
    }

    [Fact]
    public async Task AQueuedRunThatCannotBeStarted_IsEndedWithEngineError_AfterThreeTries()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var down = new Mock<IRunEngine>();
        down.Setup(e => e.StartAsync(It.IsAny<RunOrchestrationInput>())).ReturnsAsync(false);
        down.Setup(e => e.GetStateAsync(It.IsAny<string>(), It.IsAny<CancellationToken>())).ReturnsAsync((EngineState.Missing, (string?)null));
        var run = await host.Services.GetRequiredService<RunService>().CreateAsync(
            Caller(api), new CreateRunRequest("""{"goal":"g"}""", null, null), down.Object, seed: null, CancellationToken.None);

        for (var minutes = 1; minutes <= 40 && (await api.GetAsync($"/v1/runs/{run.Id}")).Json.GetProperty("status").GetString() == "queued"; minutes *= 2)
        {
            await host.Repairer(TimeSpan.FromMinutes(minutes * 4)).RunOnceAsync(down.Object, CancellationToken.None, Mine(api));
        }

        var events = await api.WaitForEndAsync(run.Id);
        Assert.Equal(["run.created", "run.worker.failed"], Types(events));
        Assert.Equal("engine_error", Value(events[^1]).GetProperty("reason_code").GetString());
        down.Verify(e => e.StartAsync(It.IsAny<RunOrchestrationInput>()), Times.Exactly(1 + RunRepairs.MaxStarts));
    }

    // --- 8. A cancel during the agent's step opens no request ----------------------------------------------------------------

    [Fact]
    public async Task ACancelWhileTheAgentIsMidStep_EndsTheRun_AndNoRequestIsOpened()
    {
        var host = await RunsTestHost.GetAsync();
        var api = host.Api;
        var gate = Guid.NewGuid().ToString("N");
        var runId = await api.CreateRunAsync(JsonSerializer.Serialize(new { input = new { goal = "g", gate, plan = new object[] { new { type = "approval" } } } }, Relaxed));
        await GatedAgent.EnteredAsync(gate).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/cancel", null)).Status);
        GatedAgent.Open(gate);

        var events = await api.WaitForEndAsync(runId);
        Assert.Equal(["run.created", "run.started", "run.cancelled"], Types(events));
        await Eventually.GetAsync(() => host.Engine.GetStateAsync(runId), s => s.State == EngineState.Gone, what: "the orchestration to stop");
        Assert.Equal(["run.created", "run.started", "run.cancelled"], Types(await api.EventsAsync(runId)));
    }

    // --- 9. History is not kept for ever -----------------------------------------------------------------------------------

    [Fact]
    public async Task TheHistoryOfAFinishedRun_IsPurgedAfterItsRetention_AndTheApiStillServesTheRun()
    {
        var host = await RunsTestHost.GetAsync();
        var api = host.Api;
        var runId = await api.CreateRunAsync(Plan("""{"type":"data","prompt":"Password?"}"""));
        await api.WaitForStatusAsync(runId, "awaiting_input");
        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"submit_input","payload":{"password":"hunter2"}}""")).Status);
        var events = await api.WaitForEndAsync(runId);
        await Eventually.GetAsync(() => host.Engine.GetStateAsync(runId), s => s.State == EngineState.Gone, what: "the orchestration to finish");

        var keep = ActivatorUtilities.CreateInstance<HistoryRetention>(host.Services, Options.Create(new RunOptions { HistoryRetentionDays = 1 }), TimeProvider.System);
        await keep.PurgeAsync(host.Engine, CancellationToken.None);
        Assert.NotNull(await host.Client.GetInstanceAsync(runId));

        var purge = ActivatorUtilities.CreateInstance<HistoryRetention>(host.Services, Options.Create(new RunOptions { HistoryRetentionDays = 1 }), new RunsTestHost.ShiftedTime(TimeSpan.FromDays(1.01)));
        Assert.True(await purge.PurgeAsync(host.Engine, CancellationToken.None) >= 1);

        Assert.Null(await host.Client.GetInstanceAsync(runId));
        Assert.Equal(200, (await api.GetAsync($"/v1/runs/{runId}")).Status);
        Assert.Equal(events.Count, (await api.EventsAsync(runId)).Count);
    }

    // Retention passes purge every finished run of the shared task hub: both retention tests live in this class, whose tests
    // run one after another.
    [Fact]
    public async Task WhatAFinishedRunsAgentKept_IsForgottenWithItsHistory_AndAWaitingRunsIsKept()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var url = ScriptedWorkers.NewUrl(out var path);
        Assert.Equal(201, (await api.PostAsync("/v1/workers", $$"""{"name":"{{path}}","url":"{{url}}"}""")).Status);
        host.Workers.AnswerJson(path, (call, _) => call.Json.GetProperty("input").GetProperty("goal").GetString() == "wait"
            ? """{"type":"approval","prompt":"Send?"}"""
            : call.StepIndex == 0 ? """{"type":"work","summary":"Drafted."}""" : """{"type":"finish","output":{"done":true}}""");
        var finished = await api.CreateRunAsync($$"""{"input":{"goal":"g"},"agent":"worker:{{path}}"}""");
        await api.WaitForEndAsync(finished);
        var waiting = await api.CreateRunAsync($$"""{"input":{"goal":"wait"},"agent":"worker:{{path}}"}""");
        await api.WaitForStatusAsync(waiting, "awaiting_input");
        await Eventually.GetAsync(() => host.Engine.GetStateAsync(finished), s => s.State == EngineState.Gone, what: "the orchestration to finish");
        var steps = host.Services.GetRequiredService<RunTables>().WorkerSteps;
        Assert.Equal(2, await RowsAsync(steps, finished));
        Assert.Equal(1, await RowsAsync(steps, waiting));

        var retention = ActivatorUtilities.CreateInstance<HistoryRetention>(
            host.Services, Options.Create(new RunOptions { HistoryRetentionDays = 1 }), new RunsTestHost.ShiftedTime(TimeSpan.FromDays(1.01)));
        await retention.PurgeAsync(host.Engine, CancellationToken.None);

        Assert.Equal(0, await RowsAsync(steps, finished));
        Assert.Null(await host.Client.GetInstanceAsync(finished));
        Assert.Equal(1, await RowsAsync(steps, waiting));
        Assert.NotNull(await host.Client.GetInstanceAsync(waiting));
        Assert.Equal("succeeded", (await api.GetAsync($"/v1/runs/{finished}")).Json.GetProperty("status").GetString());
        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{waiting}/signal", """{"action":"approve"}""")).Status);

        // The model agent's conversations go the same way.
        Assert.Contains(host.Services.GetServices<IAgentRunState>(), s => s is ModelConversationStore);
    }

    private static async Task<int> RowsAsync(TableClient table, string runId)
    {
        var count = 0;
        await foreach (var _ in table.QueryAsync<TableEntity>(e => e.PartitionKey == runId))
        {
            count++;
        }

        return count;
    }

    /// <summary>How a client that writes text as it is (no \uXXXX) serializes: the body holds what the limit counts.</summary>
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>A repair pass over this test's runs only: other tests share the task hub and the index.</summary>
    private static Func<OpenRun, bool> Mine(ApiClient api) => run => run.TenantId == api.TenantId;

    private static Caller Caller(ApiClient api) => new(api.TenantId, new Actor("key_test", "test"));

    private static bool IsTerminalType(string type) => type is "run.worker.succeeded" or "run.worker.failed" or "run.cancelled";

    /// <summary>Waits for the n-th request of the run and returns its id.</summary>
    private static async Task<string> WaitForRequestAsync(ApiClient api, string runId, int n)
    {
        var events = await Eventually.GetAsync(
            () => api.EventsAsync(runId), list => list.Count(e => Type(e) == "run.awaiting_input") >= n, what: $"request {n} of {runId}");
        return Value(events.Where(e => Type(e) == "run.awaiting_input").ElementAt(n - 1)).GetProperty("request_id").GetString()!;
    }

    /// <summary>A body of exactly <paramref name="bytes"/> UTF-8 bytes: prefix, CJK and JSON-escapable text, suffix.</summary>
    private static string FillTo(int bytes, string prefix, string suffix)
    {
        var text = new StringBuilder(prefix);
        string[] pieces = ["漢", "<", ">", "&", "'", "+", "\\\"", "😀"];
        for (var i = 0; Encoding.UTF8.GetByteCount(text.ToString()) + Encoding.UTF8.GetByteCount(suffix) < bytes - 4; i++)
        {
            text.Append(pieces[i % pieces.Length]);
        }

        while (Encoding.UTF8.GetByteCount(text.ToString()) + Encoding.UTF8.GetByteCount(suffix) < bytes)
        {
            text.Append('x');
        }

        var body = text + suffix;
        Assert.Equal(bytes, Encoding.UTF8.GetByteCount(body));
        return body;
    }

    /// <summary>The raw text of a member of a JSON document, as it appears in the document.</summary>
    private static string RawMember(string json, params string[] path)
    {
        using var document = JsonDocument.Parse(json);
        var element = document.RootElement;
        foreach (var name in path)
        {
            element = element.GetProperty(name);
        }

        return element.GetRawText();
    }
}
