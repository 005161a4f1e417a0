using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgentRuns.EndToEnd.Tests.Support;
using AgentRuns.Functions.Security;
using AgentRuns.Functions.Storage;
using AgentRuns.Testing.Contract;
using Microsoft.Extensions.Options;

namespace AgentRuns.EndToEnd.Tests;

/// <summary>
/// One local host whose workers get 2 s per attempt and 2 retries 200 ms apart, the sample worker (samples/worker/worker.ts) as a
/// child process registered as "email" in the host's development tenant, and misbehaving workers in the test process.
/// </summary>
public sealed class WorkerHostFixture : IAsyncLifetime
{
    public const string SampleName = "email";

    public static readonly IReadOnlyDictionary<string, string> Settings = new Dictionary<string, string>
    {
        ["Workers__TimeoutSeconds"] = "2",
        ["Workers__MaxRetries"] = "2",
        ["Workers__RetryDelayMilliseconds"] = "200",
    };

    public LocalHostProcess Host { get; private set; } = null!;

    public FakeWorkers Fakes { get; private set; } = null!;

    public SampleWorker Sample { get; private set; } = null!;

    public string SampleSecret { get; private set; } = "";

    public async Task InitializeAsync()
    {
        Fakes = await FakeWorkers.StartAsync();
        Host = await LocalHostProcess.StartAsync(LocalHostSettings.Fresh() with { Settings = Settings });

        // As the README says: register the worker (the local host allows loopback URLs), then start it with the secret.
        var port = SampleWorker.FreePort();
        var created = await Host.Http.SendAsync(HttpMethod.Post, "/v1/workers", $$"""{"name":"{{SampleName}}","url":"http://127.0.0.1:{{port}}/"}""");
        Assert.True(created.Status == HttpStatusCode.Created, created.ToString());
        SampleSecret = created.Json.GetProperty("secret").GetString()!;
        Sample = await SampleWorker.StartAsync(SampleSecret, port);
    }

    public async Task DisposeAsync()
    {
        await Sample.DisposeAsync();
        await Host.DisposeAsync();
        await Fakes.DisposeAsync();
    }
}

/// <summary>
/// HTTP workers over real HTTP: the local host calls the sample worker (a Node child process that verifies every signature) and
/// workers in the test process that are slow, answer garbage or fail for ever; every response the tests get from the service is
/// checked against the OpenAPI document, and every step request a fake worker gets against its <c>WorkerStepRequest</c>.
/// </summary>
public sealed class WorkerOverHttpTests(WorkerHostFixture fixture) : IClassFixture<WorkerHostFixture>
{
    private const string Goal = """{"input":{"goal":"Ship the release notes","to":"team@example.com"},"agent":"worker:email"}""";

    private HttpClient Http => fixture.Host.Http;

    [Fact]
    public async Task TheSampleWorker_DraftsAsksForApproval_AndAnApproveFinishesWithTheDraftItProposed()
    {
        var runId = await Http.CreateRunAsync(Goal);

        var pending = (await Http.WaitForStatusAsync(runId, "awaiting_input")).Json.GetProperty("pending_input");
        Assert.Equal("""Send "Weekly team update" to team@example.com?""", pending.GetProperty("prompt").GetString());
        var proposed = pending.GetProperty("proposed_action");
        Assert.Equal("send_email", proposed.GetProperty("tool").GetString());
        Assert.Contains("Ship the release notes", proposed.GetProperty("arguments").GetProperty("body").GetString(), StringComparison.Ordinal);
        Assert.True(pending.GetProperty("allow_edits").GetBoolean());
        Assert.Equal(HttpStatusCode.Accepted, (await Http.SendAsync(HttpMethod.Post, $"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);
        var done = await Http.WaitForStatusAsync(runId, "succeeded");

        var output = done.Json.GetProperty("output");
        Assert.Equal(proposed.GetProperty("arguments").GetRawText(), output.GetProperty("email").GetRawText());
        Assert.Equal(JsonValueKind.String, output.GetProperty("approved_by").ValueKind);
        var events = await Http.EventsAsync(runId);
        Assert.Equal(
            ["run.created", "run.started", "run.worker.progress", "run.awaiting_input", "run.signal_received", "run.worker.succeeded"],
            events.Select(e => e.GetProperty("type").GetString()));
        Assert.Equal("draft_email", events[2].GetProperty("payload").GetProperty("value").GetProperty("tool").GetString());
        Assert.Equal(3, SampleSteps(runId).Count); // work, approval, finish: one call each
    }

    [Fact]
    public async Task TheSampleWorker_ApprovedWithEdits_SendsTheEditedEmail()
    {
        var runId = await Http.CreateRunAsync(Goal);
        await Http.WaitForStatusAsync(runId, "awaiting_input");

        var approve = await Http.SendAsync(HttpMethod.Post, $"/v1/runs/{runId}/signal", """{"action":"approve","payload":{"arguments":{"subject":"Release week"}}}""");
        Assert.Equal(HttpStatusCode.Accepted, approve.Status);
        var done = await Http.WaitForStatusAsync(runId, "succeeded");

        var email = done.Json.GetProperty("output").GetProperty("email");
        Assert.Equal("Release week", email.GetProperty("subject").GetString());
        Assert.Equal("team@example.com", email.GetProperty("to").GetString());
    }

    [Fact]
    public async Task TheSampleWorker_Rejected_EndsTheRunRejected_AndIsNotCalledAgain()
    {
        var runId = await Http.CreateRunAsync(Goal);
        await Http.WaitForStatusAsync(runId, "awaiting_input");

        var reject = await Http.SendAsync(HttpMethod.Post, $"/v1/runs/{runId}/signal", """{"action":"reject","payload":{"reason":"Not this week."}}""");
        Assert.Equal(HttpStatusCode.Accepted, reject.Status);
        var failed = await Http.WaitForStatusAsync(runId, "failed");

        Assert.Equal("rejected", failed.Json.GetProperty("error").GetProperty("reason_code").GetString());
        Assert.Equal("Not this week.", failed.Json.GetProperty("error").GetProperty("reason").GetString());
        Assert.Equal(2, SampleSteps(runId).Count);
    }

    [Fact]
    public async Task TheSampleWorker_GivenSubmitInput_RedraftsAndAsksAgain_ThenFinishesWithTheChange()
    {
        var runId = await Http.CreateRunAsync(Goal);
        var first = (await Http.WaitForStatusAsync(runId, "awaiting_input")).Json.GetProperty("pending_input");

        // The sample's response_schema holds for submit_input too: an unknown field is refused, nothing changes.
        var refused = await Http.SendAsync(HttpMethod.Post, $"/v1/runs/{runId}/signal", """{"action":"submit_input","payload":{"cc":"boss@example.com"}}""");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.Status);
        var change = await Http.SendAsync(HttpMethod.Post, $"/v1/runs/{runId}/signal", """{"action":"submit_input","payload":{"subject":"Release week update"}}""");
        Assert.Equal(HttpStatusCode.Accepted, change.Status);
        var second = (await Eventually.GetAsync(
            () => Http.SendAsync(HttpMethod.Get, $"/v1/runs/{runId}"),
            r => r.Json.GetProperty("pending_input") is { ValueKind: JsonValueKind.Object } p
                && p.GetProperty("request_id").GetString() != first.GetProperty("request_id").GetString(),
            TimeSpan.FromSeconds(30), "the second approval")).Json.GetProperty("pending_input");
        Assert.Equal("Release week update", second.GetProperty("proposed_action").GetProperty("arguments").GetProperty("subject").GetString());
        Assert.Equal(HttpStatusCode.Accepted, (await Http.SendAsync(HttpMethod.Post, $"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);
        var done = await Http.WaitForStatusAsync(runId, "succeeded");

        Assert.Equal("Release week update", done.Json.GetProperty("output").GetProperty("email").GetProperty("subject").GetString());
    }

    [Fact]
    public async Task TheSample_RefusesEveryCallItCannotVerify_AndAnswersAProperlySignedOne()
    {
        var body = """{"type":"agent.step","run_id":"run_forged","step_index":1,"idempotency_key":"step_forged_1","worker":"email","input":{"goal":"Wire the money"},"answers":[]}""";
        var now = DateTimeOffset.UtcNow;
        var wrongSecret = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

        var forged = await PostToSampleAsync(body, Signed(wrongSecret, "step_forged_1", now, body));
        var tampered = await PostToSampleAsync(body.Replace("Wire the money", "Wire more money", StringComparison.Ordinal), Signed(fixture.SampleSecret, "step_forged_1", now, body));
        var stale = await PostToSampleAsync(body, Signed(fixture.SampleSecret, "step_forged_1", now.AddMinutes(-10), body));
        var otherId = await PostToSampleAsync(body, Signed(fixture.SampleSecret, "step_forged_1", now, body) with { Id = "step_forged_2" });
        var unsigned = await PostToSampleAsync(body, null);
        var genuine = await PostToSampleAsync(body, Signed(fixture.SampleSecret, "step_forged_1", now, body));

        Assert.Equal(
            [HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized],
            new[] { forged.Status, tampered.Status, stale.Status, otherId.Status, unsigned.Status });
        Assert.True(genuine.Status == HttpStatusCode.OK, genuine.Body);
        ApiContract.Default.Evaluate("/components/schemas/WorkerAnswer", JsonDocument.Parse(genuine.Body).RootElement, "the sample's answer");
        Assert.Equal("approval", JsonDocument.Parse(genuine.Body).RootElement.GetProperty("type").GetString());
        Assert.Contains(fixture.Sample.Lines, l => l.Contains("refused a call whose signature does not verify", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AWorkerSignedWithAnotherSecret_IsRefusedByTheSample_AndTheRunEndsWithAgentError()
    {
        // A second registration at the sample's URL has a secret of its own: the sample, holding the first one, refuses its calls.
        var created = await Http.SendAsync(HttpMethod.Post, "/v1/workers", $$"""{"name":"impostor","url":"{{fixture.Sample.Url}}"}""");
        Assert.Equal(HttpStatusCode.Created, created.Status);

        var runId = await Http.CreateRunAsync("""{"input":{"goal":"Ship the release notes"},"agent":"worker:impostor"}""");
        var failed = await Http.WaitForStatusAsync(runId, "failed");

        Assert.Equal("agent_error", failed.Json.GetProperty("error").GetProperty("reason_code").GetString());
        Assert.Contains("It answered HTTP 401 (not retried", failed.Json.GetProperty("error").GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Empty(SampleSteps(runId));
    }

    [Fact]
    public async Task AWorkerThatTimesOut_ThenAnswers_IsCalledAgainWithTheSameIdempotencyKey_AndTheRunSucceeds()
    {
        var (path, _) = await FakeAsync(async (_, n, aborted) =>
        {
            if (n == 0)
            {
                await Task.Delay(TimeSpan.FromSeconds(30), aborted); // past the 2 s the service gives an attempt
            }

            return (200, """{"type":"finish","output":{"on_time":false}}""");
        });

        var runId = await Http.CreateRunAsync(Agent(path));
        var done = await Http.WaitForStatusAsync(runId, "succeeded");

        Assert.False(done.Json.GetProperty("output").GetProperty("on_time").GetBoolean());
        var calls = fixture.Fakes.ReceivedAt(path);
        Assert.Equal(2, calls.Count);
        Assert.Single(calls.Select(c => c.Id).Distinct());
        Assert.Equal($"step_{runId["run_".Length..]}_0", calls[0].Id);
        Assert.Single(calls.Select(c => c.Body).Distinct());
        Assert.All(calls, c => Assert.True(c.SignatureValid, $"bad signature {c.Signature}"));
        Assert.All(calls, c => Assert.Null(c.ContractViolation));
        var gap = calls[1].At - calls[0].At;
        Assert.True(gap >= TimeSpan.FromSeconds(1.5), $"retried after {gap.TotalMilliseconds} ms: before the attempt's 2 s timeout");
    }

    [Theory]
    [InlineData("<html><body>502 Bad Gateway</body></html>", "is not JSON")]
    [InlineData("""{"type":"approval","prompt":"Send?","allow_edits":"yes"}""", "allow_edits must be true or false")]
    [InlineData("""{"type":"finish","result":{"sent":true}}""", "a finish answer has no member 'result'")]
    public async Task AWorkerAnsweringGarbage_EndsTheRunFailedWithAgentError_SayingWhatIsWrong(string garbage, string what)
    {
        var (path, _) = await FakeAsync((_, _, _) => Task.FromResult((200, garbage)));

        var runId = await Http.CreateRunAsync(Agent(path));
        var failed = await Http.WaitForStatusAsync(runId, "failed");

        var error = failed.Json.GetProperty("error");
        Assert.Equal("agent_error", error.GetProperty("reason_code").GetString());
        Assert.Contains($"The worker '{path}' answered step 0 with something that is not a decision: ", error.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains(what, error.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Single(fixture.Fakes.ReceivedAt(path));
    }

    [Fact]
    public async Task AWorkerAnswering500ForEver_EndsTheRunWithAgentError_AfterItsRetries()
    {
        var (path, _) = await FakeAsync((_, _, _) => Task.FromResult((500, """{"error":"boom"}""")));

        var runId = await Http.CreateRunAsync(Agent(path));
        var failed = await Http.WaitForStatusAsync(runId, "failed");

        var error = failed.Json.GetProperty("error");
        Assert.Equal("agent_error", error.GetProperty("reason_code").GetString());
        Assert.Equal($"The worker '{path}' failed at step 0: It answered HTTP 500 (3 attempts).", error.GetProperty("reason").GetString());
        var calls = fixture.Fakes.ReceivedAt(path);
        Assert.Equal(3, calls.Count);
        Assert.Single(calls.Select(c => c.Id).Distinct());
        Assert.All(calls, c => Assert.True(c.SignatureValid));
        var events = await Http.EventsAsync(runId);
        Assert.Equal(["run.created", "run.started", "run.worker.failed"], events.Select(e => e.GetProperty("type").GetString()));
    }

    [Fact]
    public async Task AWorkerThatAsksToWait_IsCalledAgainLater_AndTheLogShowsNoWait()
    {
        var (path, _) = await FakeAsync((_, n, _) => Task.FromResult(n == 0
            ? (200, """{"type":"wait","seconds":2}""")
            : (200, """{"type":"finish","output":{"after_wait":true}}""")));

        var runId = await Http.CreateRunAsync(Agent(path));
        await Http.WaitForStatusAsync(runId, "succeeded");

        var calls = fixture.Fakes.ReceivedAt(path);
        Assert.Equal([0, 1], calls.Select(c => c.StepIndex));
        // A durable timer on the Azure Storage backend may fire up to a second early (queue visibility is whole seconds).
        var gap = calls[1].At - calls[0].At;
        Assert.True(gap >= TimeSpan.FromSeconds(1), $"called again after {gap.TotalMilliseconds} ms");
        var events = await Http.EventsAsync(runId);
        Assert.Equal(["run.created", "run.started", "run.worker.succeeded"], events.Select(e => e.GetProperty("type").GetString()));
    }

    [Fact]
    public async Task AnotherTenant_CanNeitherSeeDeleteNorRunTheWorker()
    {
        var tables = new RunTables(Options.Create(new RunStorageOptions
        {
            ConnectionString = Azurite.ConnectionString,
            ApiKeysTable = fixture.Host.Settings.TablePrefix + "Keys",
        }));
        var minted = await new ApiKeyStore(tables, TimeProvider.System).MintAsync("other-" + Guid.NewGuid().ToString("N")[..8], "Another tenant's operator");
        using var other = fixture.Host.CreateClient(TimeSpan.FromSeconds(30), minted.Key);

        var list = await other.SendAsync(HttpMethod.Get, "/v1/workers");
        var get = await other.SendAsync(HttpMethod.Get, "/v1/workers/email");
        var delete = await other.SendAsync(HttpMethod.Delete, "/v1/workers/email");
        var run = await other.SendAsync(HttpMethod.Post, "/v1/runs", Goal);

        Assert.Equal(HttpStatusCode.OK, list.Status);
        Assert.Empty(list.Json.GetProperty("data").EnumerateArray());
        Assert.Equal((HttpStatusCode.NotFound, "worker_not_found"), (get.Status, get.Json.GetProperty("reason_code").GetString()));
        Assert.Equal((HttpStatusCode.NotFound, "worker_not_found"), (delete.Status, delete.Json.GetProperty("reason_code").GetString()));
        Assert.Equal((HttpStatusCode.BadRequest, "agent_not_available"), (run.Status, run.Json.GetProperty("reason_code").GetString()));
        Assert.Empty((await other.SendAsync(HttpMethod.Get, "/v1/runs")).Json.GetProperty("data").EnumerateArray());

        // The owner's worker is still there and still works for the owner.
        Assert.Equal(HttpStatusCode.OK, (await Http.SendAsync(HttpMethod.Get, "/v1/workers/email")).Status);
        var ownRun = await Http.CreateRunAsync(Goal);
        await Http.WaitForStatusAsync(ownRun, "awaiting_input");
        Assert.Equal(HttpStatusCode.Accepted, (await Http.SendAsync(HttpMethod.Post, $"/v1/runs/{ownRun}/cancel", "{}")).Status);
    }

    /// <summary>The sample's log lines for a run: one per step it answered.</summary>
    private List<string> SampleSteps(string runId) => [.. fixture.Sample.Lines.Where(l => l.StartsWith(runId + " step ", StringComparison.Ordinal))];

    private static string Agent(string worker) => $$"""{"input":{"goal":"g"},"agent":"worker:{{worker}}"}""";

    /// <summary>Registers a worker in the test process, behaving as given; its name is its path.</summary>
    private async Task<(string Path, string Secret)> FakeAsync(WorkerBehaviour behaviour)
    {
        var path = "fake-" + Guid.NewGuid().ToString("N")[..10];
        var created = await Http.SendAsync(HttpMethod.Post, "/v1/workers", $$"""{"name":"{{path}}","url":"{{fixture.Fakes.Url(path)}}"}""");
        Assert.True(created.Status == HttpStatusCode.Created, created.ToString());
        var secret = created.Json.GetProperty("secret").GetString()!;
        fixture.Fakes.Behave(path, secret, behaviour);
        return (path, secret);
    }

    private sealed record Signature(string Id, string Timestamp, string Value);

    private static Signature Signed(string secret, string id, DateTimeOffset at, string body)
    {
        var timestamp = at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var mac = HMACSHA256.HashData(Convert.FromBase64String(secret["whsec_".Length..]), Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}"));
        return new Signature(id, timestamp, "v1," + Convert.ToBase64String(mac));
    }

    private async Task<ApiResponse> PostToSampleAsync(string body, Signature? signature)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var request = new HttpRequestMessage(HttpMethod.Post, fixture.Sample.Url) { Content = new StringContent(body, Encoding.UTF8, new MediaTypeHeaderValue("application/json")) };
        if (signature is not null)
        {
            request.Headers.TryAddWithoutValidation("webhook-id", signature.Id);
            request.Headers.TryAddWithoutValidation("webhook-timestamp", signature.Timestamp);
            request.Headers.TryAddWithoutValidation("webhook-signature", signature.Value);
        }

        using var response = await http.SendAsync(request);
        return new ApiResponse(response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync());
    }
}
