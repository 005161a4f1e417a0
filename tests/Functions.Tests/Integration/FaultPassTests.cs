using AgentRuns.Functions.Agents;
using AgentRuns.Functions.Idempotency;
using AgentRuns.Functions.Runs;
using AgentRuns.Functions.Security;
using AgentRuns.Functions.Storage;
using AgentRuns.Functions.Tests.Support;
using AgentRuns.Functions.Webhooks;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using static AgentRuns.Functions.Tests.Support.RunAssertions;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>
/// Faults on the newer paths (webhooks, idempotency of the API's other writes, workers, the model agent): a process that dies
/// between two writes, two writers that race, a response that is never stored. Each test failed before its fix.
/// </summary>
public sealed class FaultPassTests
{
    private const string Approval = """{"type":"approval","prompt":"Send it?"}""";

    // --- Webhooks: two writers racing for one seq ----------------------------------------------------------------------------

    [Fact]
    public async Task AWriterThatLosesTheRaceForASeq_DoesNotReplaceTheWinnersDelivery()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var url = $"https://93.184.215.14/hooks/{Guid.NewGuid():N}";
        var attempts = 0;
        host.Receivers.Answer(url, r => Task.FromResult(r.Type == "run.cancelled" && Interlocked.Increment(ref attempts) == 1 ? 503 : 200));
        Assert.Equal(201, (await api.PostAsync("/v1/webhooks", $$"""{"url":"{{url}}"}""")).Status);
        var runId = await api.CreateRunAsync(Plan(Approval));
        await api.WaitForStatusAsync(runId, "awaiting_input");
        await Eventually.GetAsync(() => host.WebhookOutbox.PendingAsync(api.TenantId), p => p.Count == 0, what: "run.awaiting_input delivered");

        // A second writer (here the engine-failure path; the run's own end, a reminder or an expiry race the same way) reads the
        // run and records its delivery for the next seq, but is held before that outbox write reaches storage.
        var hold = new HoldFirstBatch();
        var outbox = ActivatorUtilities.CreateInstance<WebhookOutbox>(host.Services, new WebhookOutboxIndex(host.TablesWith(hold)));
        var loser = ActivatorUtilities.CreateInstance<RunStore>(host.Services, (IEventOutbox)outbox);
        var losing = Task.Run(() => loser.ApplyAsync(api.TenantId, runId, (run, now) => RunTransitions.FailForEngine(run, "lost the race", now)));
        await hold.Reached.WaitAsync(TimeSpan.FromSeconds(30));

        // Meanwhile the user's cancel takes that seq, and its first delivery attempt fails (the receiver is briefly down).
        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/cancel", null)).Status);
        await Eventually.GetAsync(() => Task.FromResult(Volatile.Read(ref attempts)), n => n >= 1, what: "the cancel's first attempt");

        // The held writer goes on: its outbox row is written, its run write fails (412) and it decides again: nothing to do.
        hold.Release();
        Assert.False(await losing);
        var cancelled = (await api.EventsAsync(runId))[^1];
        Assert.Equal("run.cancelled", Type(cancelled));

        // Every delivery is attempted until the outbox has none left: the cancel's retry must be among them, and succeed.
        await Eventually.GetAsync(
            async () =>
            {
                await host.WebhookDispatcher(ahead: TimeSpan.FromMinutes(6)).RunOnceAsync(CancellationToken.None, d => d.TenantId == api.TenantId);
                return await host.WebhookOutbox.PendingAsync(api.TenantId);
            },
            p => p.Count == 0,
            what: "the outbox to empty");
        var cancels = host.Receivers.ReceivedBy(url).Where(r => r.Type == "run.cancelled").ToList();
        Assert.True(cancels.Count >= 2, $"run.cancelled was attempted {cancels.Count} time(s): its retry was lost");
        Assert.All(cancels, r => Assert.Equal(WebhookIds.Message(runId, cancelled.GetProperty("seq").GetInt64()), r.Headers["webhook-id"]));
        Assert.DoesNotContain(host.Receivers.ReceivedBy(url), r => r.Type == "run.worker.failed");
    }

    // --- HTTP workers: a run that ended without its orchestration being told ---------------------------------------------------

    [Fact]
    public async Task ACancelledWorkerRun_WhoseCancelNeverReachedItsOrchestration_CallsItsWorkerNoMore()
    {
        // The process that accepted the cancel died after writing it and before raising it (or the raise failed): the run is
        // cancelled, its orchestration was not told. A worker that answers "wait" is called again and again; no step writes to
        // the run, so nothing found out that the run had ended, and the worker went on being called after the user cancelled.
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var url = ScriptedWorkers.NewUrl(out var path);
        Assert.Equal(201, (await api.PostAsync("/v1/workers", $$"""{"name":"{{path}}","url":"{{url}}"}""")).Status);
        host.Workers.AnswerInOrder(path, """{"type":"wait","seconds":1}""");
        var runId = await api.CreateRunAsync($$"""{"input":{"goal":"g"},"agent":"worker:{{path}}"}""");
        await Eventually.GetAsync(() => Task.FromResult(host.Workers.CallsTo(path).Count), n => n >= 2, what: "the worker to be waited on");

        var caller = new Model.Caller(api.TenantId, new Model.Actor("key_0000000000000000", "test"));
        await host.Services.GetRequiredService<RunService>().CancelAsync(caller, runId, null, null, new RaiseCancelLost(host.Engine), CancellationToken.None);
        var callsAtCancel = host.Workers.CallsTo(path).Count;

        await Eventually.GetAsync(
            async () => (await host.Client.GetInstanceAsync(runId))?.RuntimeStatus,
            s => s is Microsoft.DurableTask.Client.OrchestrationRuntimeStatus.Completed,
            TimeSpan.FromSeconds(20),
            what: "the run's orchestration to stop");
        Assert.InRange(host.Workers.CallsTo(path).Count, callsAtCancel, callsAtCancel + 1); // at most the call that was on its way
        Assert.Equal("cancelled", (await api.GetAsync($"/v1/runs/{runId}")).Json.GetProperty("status").GetString());
    }

    // --- The model agent: tool side effects keyed by the call's id ---------------------------------------------------------

    [Fact]
    public async Task AModelThatGivesTwoTurnsTheSameToolCallId_StillSendsBothApprovedEmails()
    {
        // Some OpenAI-compatible servers number tool calls per response ("call_0" every turn). send_email keys its outbox row
        // by the call's id so that a retried step sends nothing twice: the second, different email must not be taken for the first.
        var host = await RunsTestHost.GetAsync();
        var api = host.Api;
        var script = ScriptedChatClient.Register(ModelScript.Turns(
            Reply.Calls(("call_0", SampleEmailTools.SendEmail, new { to = "a@example.com", subject = "First", body = "One." })),
            Reply.Calls(("call_0", SampleEmailTools.SendEmail, new { to = "b@example.com", subject = "Second", body = "Two." })),
            Reply.Text("Sent both.")));
        var runId = await api.CreateRunAsync(script.CreateBody());

        foreach (var to in new[] { "a@example.com", "b@example.com" })
        {
            var pending = await Eventually.GetAsync(
                () => api.GetAsync($"/v1/runs/{runId}"),
                r => r.Json.GetProperty("status").GetString() == "awaiting_input"
                     && r.Json.GetProperty("pending_input").GetProperty("proposed_action").GetProperty("arguments").GetProperty("to").GetString() == to,
                what: $"the approval of the email to {to}");
            Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);
        }

        Assert.Equal("run.worker.succeeded", Type((await api.WaitForEndAsync(runId))[^1]));
        var sent = await host.Services.GetRequiredService<EmailOutbox>().ListAsync(api.TenantId, runId);
        Assert.Equal(["First", "Second"], sent.Select(e => e.Subject));
        Assert.DoesNotContain("already_queued", script.Calls[^1].ToolResults[^1].Result, StringComparison.Ordinal);
    }

    // --- A write that lands while its response is lost (the storage client sends it again) -----------------------------------

    [Fact]
    public async Task AKeyMint_WhoseInsertLandedButWhoseResponseWasLost_HandsOutTheKey_NotAConflict()
    {
        var host = await RunsTestHost.GetAsync();
        var loss = new LoseResponse(host.TablePrefix + "Keys");
        var keys = new ApiKeyStore(host.TablesWith(loss), TimeProvider.System);
        var tenant = "tenant-" + Guid.NewGuid().ToString("N")[..12];
        loss.LoseNext(HttpMethod: "POST");

        var minted = await keys.MintAsync(tenant, "ops on call");

        Assert.Equal(1, loss.Lost);
        var caller = await host.Keys.FindAsync(minted.Key);
        Assert.NotNull(caller);
        Assert.Equal(tenant, caller.TenantId);
    }

    [Fact]
    public async Task ADeleteOfAWebhook_WhoseWriteLandedButWhoseResponseWasLost_IsDeleted_NotNotFound()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var id = (await api.PostAsync("/v1/webhooks", """{"url":"https://93.184.215.14/gone-soon"}""")).Json.GetProperty("id").GetString()!;
        var loss = new LoseResponse(host.TablePrefix + "Hooks");
        var store = new WebhookSubscriptionStore(host.TablesWith(loss));
        loss.LoseNext(HttpMethod: "POST");

        var deleted = await store.DeleteAsync(api.TenantId, id);

        Assert.Equal(1, loss.Lost);
        Assert.True(deleted, "the delete landed, yet it answered as if there had been nothing to delete (404 webhook_not_found)");
        Assert.Empty((await api.GetAsync("/v1/webhooks")).Json.GetProperty("data").EnumerateArray());
    }

    [Fact]
    public async Task ADeliveredWebhook_WhoseAttemptRecordLandedButWhoseResponseWasLost_IsNotDeliveredAgain()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var url = $"https://93.184.215.14/hooks/{Guid.NewGuid():N}";
        var posts = 0;
        host.Receivers.Answer(url, _ => Task.FromResult(Interlocked.Increment(ref posts) == 1 ? 500 : 200));
        var id = (await api.PostAsync("/v1/webhooks", $$"""{"url":"{{url}}","events":["run.awaiting_input"]}""")).Json.GetProperty("id").GetString()!;
        var runId = await api.CreateRunAsync(Plan(Approval));
        await api.WaitForStatusAsync(runId, "awaiting_input");
        var due = Assert.Single(await Eventually.GetAsync(
            () => host.WebhookOutbox.PendingAsync(api.TenantId), p => p is [{ Attempts: 1 }], what: "the first attempt, failed and rescheduled"));

        // The retry: the receiver takes it (2xx), and the attempt's record lands but its response is lost.
        var loss = new LoseResponse(host.TablePrefix + "HookLog");
        var dispatcher = ActivatorUtilities.CreateInstance<WebhookDispatcher>(
            host.Services, new WebhookAttemptLog(host.TablesWith(loss)), (TimeProvider)new RunsTestHost.ShiftedTime(TimeSpan.FromMinutes(1)));
        loss.LoseNext(HttpMethod: "POST");
        var verdict = await dispatcher.AttemptAsync(due, CancellationToken.None);

        Assert.Equal(1, loss.Lost);
        Assert.Equal(WebhookVerdict.Delivered, verdict);
        Assert.Empty(await host.WebhookOutbox.PendingAsync(api.TenantId));
        Assert.Equal(2, Volatile.Read(ref posts));
        var attempts = (await api.GetAsync($"/v1/webhooks/{id}/deliveries")).Json.GetProperty("data");
        Assert.Equal(["delivered", "retrying"], attempts.EnumerateArray().Select(a => a.GetProperty("outcome").GetString()));
    }

    [Fact]
    public async Task AnApprovedSendEmail_ThatRanButWhoseResultWasNotStored_IsNotSentTwice()
    {
        // The step that takes in the approval runs send_email, then storage refuses the tool's result (the host could as well
        // have died there): the step fails and is retried, and runs the tool again. The email goes out once.
        var host = await RunsTestHost.GetAsync();
        var tenant = host.Api.TenantId;
        var script = ScriptedChatClient.Register(ModelScript.Turns(
            Reply.Calls(("call_send", SampleEmailTools.SendEmail, new { to = "a@example.com", subject = "Once", body = "Only once." })),
            Reply.Text("Sent.")));
        var runId = "run_" + Guid.NewGuid().ToString("N");
        var goal = System.Text.Json.JsonSerializer.Serialize(new { goal = script.Goal() });
        var agent = host.Services.GetRequiredService<ModelAgent>();
        var asked = await agent.DecideAsync(new AgentStepInput(runId, goal, 0, [], tenant, AgentNames.Model), CancellationToken.None);
        Assert.Equal(AgentDecisionKind.AskHuman, asked.Kind);
        var approve = new HumanAnswer("req-1", "approval", "approve", null, asked.Request!.ProposedActionJson, null);
        var step1 = new AgentStepInput(runId, goal, 1, [approve], tenant, AgentNames.Model);

        var refuse = new RefuseWrites(host.TablePrefix + "Turns");
        var failing = ActivatorUtilities.CreateInstance<ModelAgent>(host.Services, new ModelConversationStore(host.TablesWith(refuse)));
        await Assert.ThrowsAnyAsync<Exception>(() => failing.DecideAsync(step1, CancellationToken.None));
        Assert.True(refuse.Refused > 0);
        var retried = await agent.DecideAsync(step1, CancellationToken.None);

        Assert.Equal(AgentDecisionKind.Finish, retried.Kind);
        var sent = Assert.Single(await host.Services.GetRequiredService<EmailOutbox>().ListAsync(tenant, runId));
        Assert.Equal("Once", sent.Subject);
        Assert.Contains("already_queued", script.Calls[^1].ToolResults[^1].Result, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ASendEmail_WhoseOutboxWriteLandedButWhoseResponseWasLost_SaysQueued_NotAlreadyQueued()
    {
        // The storage client sends the insert again and gets 409: that is this call's own row, not an earlier run of the tool.
        var host = await RunsTestHost.GetAsync();
        var loss = new LoseResponse(host.TablePrefix + "Mail");
        var outbox = new EmailOutbox(host.TablesWith(loss), TimeProvider.System);
        var runId = "run_" + Guid.NewGuid().ToString("N");
        loss.LoseNext(HttpMethod: "POST");

        var (_, queued) = await outbox.QueueAsync(host.Api.TenantId, runId, "call_1", "a@example.com", "S", "B", CancellationToken.None);
        var (_, again) = await outbox.QueueAsync(host.Api.TenantId, runId, "call_1", "a@example.com", "S", "B", CancellationToken.None);

        Assert.Equal(1, loss.Lost);
        Assert.True(queued, "the first queueing of the email was reported as already_queued");
        Assert.False(again);
        Assert.Single(await outbox.ListAsync(host.Api.TenantId, runId));
    }

    // --- Idempotency: a response that was never stored -------------------------------------------------------------------------

    [Fact]
    public async Task ARetriedCancel_WhoseFirstAttemptDiedBeforeStoringItsResponse_Gets202_NotA409()
    {
        var host = await RunsTestHost.GetAsync();
        var api = host.Api;
        var runId = await api.CreateRunAsync(Plan(Approval));
        await api.WaitForStatusAsync(runId, "awaiting_input");
        var key = new Dictionary<string, string> { ["Idempotency-Key"] = Guid.NewGuid().ToString() };
        var first = await api.PostAsync($"/v1/runs/{runId}/cancel", """{"reason":"wrong recipient"}""", key);
        Assert.Equal(202, first.Status);

        // The process died after the cancel landed and before its response was stored: the key's claim is left in flight.
        await LoseStoredResponseAsync(host, api.TenantId, $"/v1/runs/{runId}/cancel", key["Idempotency-Key"]);

        var retry = await api.PostAsync($"/v1/runs/{runId}/cancel", """{"reason":"wrong recipient"}""", key);

        Assert.True(retry.Status == 202, retry.ToString());
        Assert.Equal(first.Body, retry.Body);
        Assert.Single(await api.EventsAsync(runId), e => Type(e) == "run.cancelled");
    }

    [Fact]
    public async Task ARetriedExtend_WhoseFirstAttemptDiedBeforeStoringItsResponse_IsNotAppliedAgain_AfterAnotherExtendLanded()
    {
        var host = await RunsTestHost.GetAsync();
        var api = host.Api;
        var runId = await api.CreateRunAsync(Plan("""{"type":"approval","timeout_seconds":600}"""));
        var pending = (await api.WaitForStatusAsync(runId, "awaiting_input")).GetProperty("pending_input");
        var path = $"/v1/runs/{runId}/requests/{pending.GetProperty("request_id").GetString()}/extend";
        var deadline = At(pending.GetProperty("expires_at"));
        var key = new Dictionary<string, string> { ["Idempotency-Key"] = Guid.NewGuid().ToString() };
        var first = await api.PostAsync(path, """{"extend_by_seconds":30}""", key);
        Assert.Equal(200, first.Status);

        // The process died after the extend landed and before its response was stored; meanwhile someone else extended too.
        await LoseStoredResponseAsync(host, api.TenantId, path, key["Idempotency-Key"]);
        Assert.Equal(200, (await api.PostAsync(path, """{"extend_by_seconds":10}""")).Status);

        var retry = await api.PostAsync(path, """{"extend_by_seconds":30}""", key);

        Assert.True(retry.Status == 200, retry.ToString());
        Assert.Equal(first.Body, retry.Body);
        Assert.Equal(deadline.AddSeconds(40), At((await api.GetAsync($"/v1/runs/{runId}")).Json.GetProperty("pending_input").GetProperty("expires_at")));
        Assert.Equal(2, (await api.EventsAsync(runId)).Count(e => Type(e) == "run.input_extended"));

        static DateTimeOffset At(System.Text.Json.JsonElement e) => DateTimeOffset.Parse(e.GetString()!, System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task ACreateThatFailedAfterItsRunWasWritten_IsRetriedWithItsKey_AndMakesNoSecondRun()
    {
        // The create's write landed, then the storage client failed (its response lost, its retries refused): the request
        // answers 503 and gives its key back. The client retries with the key, as it should after a 503.
        var (api, post) = await CreatesThatFailOnceAfterTheirWriteAsync();
        const string Input = """{"goal":"g","plan":[{"type":"approval"}]}""";

        Assert.Equal(503, await post(Input));
        Assert.Equal(201, await post(Input));

        Assert.Equal(1, (await api.GetAsync("/v1/runs?limit=100")).Json.GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task ACreateThatFailedAfterItsRunWasWritten_SentAgainWithAnotherBody_IsANewRequest()
    {
        // As above, but the client corrects its request before it sends it again with the key: that is a new request, with a
        // claim time (and so a run id) of its own, not the failed attempt's run answered for another body.
        var (api, post) = await CreatesThatFailOnceAfterTheirWriteAsync();

        Assert.Equal(503, await post("""{"goal":"first"}"""));
        Assert.Equal(201, await post("""{"goal":"corrected"}"""));

        Assert.Equal(2, (await api.GetAsync("/v1/runs?limit=100")).Json.GetProperty("data").GetArrayLength());
    }

    /// <summary>
    /// Creates of a new tenant's runs under one idempotency key, through the API endpoint, whose first attempt writes its run and
    /// then fails as a storage client that gave up on a lost response does (503, the key given back).
    /// </summary>
    private static async Task<(ApiClient Api, Func<string, Task<int>> Post)> CreatesThatFailOnceAfterTheirWriteAsync()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var endpoint = host.Services.GetRequiredService<Http.ApiEndpoint>();
        var service = host.Services.GetRequiredService<RunService>();
        var key = Guid.NewGuid().ToString();
        var attempts = 0;

        Task<int> PostAsync(string inputJson) => SendAsync(endpoint, api, "/v1/runs", "{\"input\":" + inputJson + "}", key, async (caller, _, seed, ct) =>
        {
            var run = await service.CreateAsync(caller, new CreateRunRequest(inputJson, null, null), host.Engine, seed, ct);
            if (Interlocked.Increment(ref attempts) == 1)
            {
                throw new IOException("The storage client gave up after the write had landed.");
            }

            return Http.ApiResults.Json(run, 201);
        });

        return (api, PostAsync);
    }

    // --- Idempotency: a key used again after its retention is a new request --------------------------------------------------

    [Fact]
    public async Task AKeyUsedAgainAfterItsRetention_AnswersTheRequestNowPending_NotTheOneItAnsweredBefore()
    {
        var host = await RunsTestHost.GetAsync();
        var api = host.Api;
        var runId = await api.CreateRunAsync(Plan(Approval, Approval));
        var firstRequest = Value(await api.WaitForEventAsync(runId, "run.awaiting_input")).GetProperty("request_id").GetString();
        var key = new Dictionary<string, string> { ["Idempotency-Key"] = "approve-" + Guid.NewGuid().ToString("N") };
        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""", key)).Status);
        var second = await Eventually.GetAsync(
            () => api.EventsAsync(runId), e => e.Count(x => Type(x) == "run.awaiting_input") == 2, what: "the second request");
        var secondRequest = Value(second.Last(x => Type(x) == "run.awaiting_input")).GetProperty("request_id").GetString();

        // A day later the key's record has expired: the same key is a new request (docs/api.md, Idempotency).
        await ExpireKeyAsync(host, api.TenantId, $"/v1/runs/{runId}/signal", key["Idempotency-Key"]);
        var again = await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""", key);

        Assert.True(again.Status == 202, again.ToString());
        Assert.NotEqual(firstRequest, secondRequest);
        Assert.Equal(secondRequest, again.Json.GetProperty("request_id").GetString());
        Assert.Equal("run.worker.succeeded", Type((await api.WaitForEndAsync(runId))[^1]));
    }

    [Fact]
    public async Task AWebhookCreate_WithAKeyUsedAgainAfterItsRetention_MakesTheSubscriptionItAsksFor()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var key = new Dictionary<string, string> { ["Idempotency-Key"] = "hook-" + Guid.NewGuid().ToString("N") };
        var first = await api.PostAsync("/v1/webhooks", """{"url":"https://93.184.215.14/old"}""", key);
        Assert.Equal(201, first.Status);

        await ExpireKeyAsync(host, api.TenantId, "/v1/webhooks", key["Idempotency-Key"]);
        var again = await api.PostAsync("/v1/webhooks", """{"url":"https://93.184.215.14/new"}""", key);

        Assert.True(again.Status == 201, again.ToString());
        Assert.Equal("https://93.184.215.14/new", again.Json.GetProperty("url").GetString());
        Assert.NotEqual(first.Json.GetProperty("id").GetString(), again.Json.GetProperty("id").GetString());
        Assert.Equal(2, (await api.GetAsync("/v1/webhooks")).Json.GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task AWorkerCreate_WithAKeyUsedAgainAfterItsRetention_FindsTheNameTaken_AndShowsNoSecret()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var key = new Dictionary<string, string> { ["Idempotency-Key"] = "worker-" + Guid.NewGuid().ToString("N") };
        Assert.Equal(201, (await api.PostAsync("/v1/workers", """{"name":"email","url":"https://93.184.215.14/old"}""", key)).Status);

        await ExpireKeyAsync(host, api.TenantId, "/v1/workers", key["Idempotency-Key"]);
        var again = await api.PostAsync("/v1/workers", """{"name":"email","url":"https://93.184.215.14/new"}""", key);

        Assert.True(again.Status == 409, again.ToString());
        Assert.Equal("worker_exists", again.ReasonCode);
    }

    /// <summary>As if the key's retention had passed (its record is purged at the next hourly pass).</summary>
    private static async Task ExpireKeyAsync(RunsTestHost host, string tenantId, string path, string key)
    {
        var row = IdempotencyStore.RowKeyFor("POST", path, key);
        var claim = (await host.Tables.Idempotency.GetEntityAsync<TableEntity>(tenantId, row)).Value;
        claim["ExpiresAt"] = DateTimeOffset.UtcNow.AddSeconds(-1);
        await host.Tables.Idempotency.UpdateEntityAsync(claim, claim.ETag, TableUpdateMode.Replace);
    }

    /// <summary>A POST through the API's one request path (<see cref="Http.ApiEndpoint"/>) with <paramref name="handler"/> as its work.</summary>
    private static async Task<int> SendAsync(
        Http.ApiEndpoint endpoint, ApiClient api, string path, string body, string key,
        Func<Model.Caller, System.Text.Json.JsonElement?, IdempotencySeed?, CancellationToken, Task<Http.JsonReply>> handler)
    {
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        var bytes = System.Text.Encoding.UTF8.GetBytes(body);
        context.Request.Method = "POST";
        context.Request.Path = path;
        context.Request.Body = new MemoryStream(bytes);
        context.Request.ContentLength = bytes.Length;
        context.Request.ContentType = "application/json";
        context.Request.Headers.Authorization = $"Bearer {api.Key}";
        context.Request.Headers["Idempotency-Key"] = key;
        var result = await endpoint.HandlePostAsync(context.Request, bodyRequired: true, handler);
        return result is Http.JsonReply reply ? reply.Status : throw new InvalidOperationException($"Unexpected result {result}.");
    }

    /// <summary>As if the process died after the request took effect and before its response was stored.</summary>
    private static async Task LoseStoredResponseAsync(RunsTestHost host, string tenantId, string path, string key)
    {
        var row = IdempotencyStore.RowKeyFor("POST", path, key);
        var claim = (await host.Tables.Idempotency.GetEntityAsync<TableEntity>(tenantId, row)).Value;
        claim["State"] = IdempotencyEntity.InFlight;
        claim["LockedUntil"] = DateTimeOffset.UtcNow.AddSeconds(-1);
        claim.Remove("Body");
        await host.Tables.Idempotency.UpdateEntityAsync(claim, claim.ETag, TableUpdateMode.Replace);
    }

    /// <summary>The engine, except that a cancel is never raised to the orchestration (as if the process died right before).</summary>
    private sealed class RaiseCancelLost(Orchestrations.IRunEngine engine) : Orchestrations.IRunEngine
    {
        public Task<bool> StartAsync(Orchestrations.RunOrchestrationInput input) => engine.StartAsync(input);

        public Task<bool> RaiseSignalAsync(string runId, Orchestrations.SignalEvent signal) => engine.RaiseSignalAsync(runId, signal);

        public Task<bool> RaiseCancelAsync(string runId, Orchestrations.CancelEvent cancel) => Task.FromResult(false);

        public Task<bool> RaiseDeadlineMovedAsync(string runId, Orchestrations.DeadlineMovedEvent moved) => engine.RaiseDeadlineMovedAsync(runId, moved);

        public Task<(Orchestrations.EngineState State, string? Detail)> GetStateAsync(string runId, CancellationToken cancellationToken = default) =>
            engine.GetStateAsync(runId, cancellationToken);

        public Task TerminateAsync(string runId, string reason, CancellationToken cancellationToken = default) => engine.TerminateAsync(runId, reason, cancellationToken);

        public Task<IReadOnlyList<string>> ListFinishedAsync(DateTimeOffset createdBefore, int limit, CancellationToken cancellationToken = default) =>
            engine.ListFinishedAsync(createdBefore, limit, cancellationToken);

        public Task<bool> PurgeAsync(string runId, CancellationToken cancellationToken = default) => engine.PurgeAsync(runId, cancellationToken);
    }

    /// <summary>Fails every write (POST, PUT, MERGE, DELETE) to <paramref name="table"/> before it reaches storage.</summary>
    private sealed class RefuseWrites(string table) : HttpPipelinePolicy
    {
        private int _refused;

        public int Refused => Volatile.Read(ref _refused);

        public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) => throw new NotSupportedException();

        public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            if (message.Request.Method != RequestMethod.Get && message.Request.Uri.ToString().Contains(table, StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _refused);
                throw new IOException("Storage refused the write.");
            }

            await ProcessNextAsync(message, pipeline);
        }
    }

    /// <summary>Holds the first batch request of the client it is on until <see cref="Release"/>.</summary>
    private sealed class HoldFirstBatch : HttpPipelinePolicy
    {
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _held;

        public Task Reached => _reached.Task;

        public void Release() => _release.TrySetResult();

        public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) => throw new NotSupportedException();

        public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            if (message.Request.Uri.ToString().Contains("$batch", StringComparison.Ordinal) && Interlocked.Exchange(ref _held, 1) == 0)
            {
                _reached.TrySetResult();
                await _release.Task;
            }

            await ProcessNextAsync(message, pipeline);
        }
    }
}
