using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using AgentRuns.EndToEnd.Tests.Support;

namespace AgentRuns.EndToEnd.Tests;

/// <summary>One local host with a short retry schedule, and a receiver in the test process.</summary>
public sealed class WebhookHostFixture : IAsyncLifetime
{
    /// <summary>1 s, 1 s, 1 s: four attempts in about three seconds. Attempts time out after 2 s.</summary>
    public static readonly IReadOnlyDictionary<string, string> Settings = new Dictionary<string, string>
    {
        ["Webhooks__RetryScheduleSeconds"] = "1,1,1",
        ["Webhooks__AttemptTimeoutSeconds"] = "2",
        ["Webhooks__DispatchIntervalSeconds"] = "1",
    };

    public LocalHostProcess Host { get; private set; } = null!;

    public WebhookReceiver Receiver { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Receiver = await WebhookReceiver.StartAsync();
        Host = await LocalHostProcess.StartAsync(LocalHostSettings.Fresh() with { Settings = Settings });
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        await Receiver.DisposeAsync();
    }
}

/// <summary>
/// Webhooks over real HTTP, from the local host (loopback allowed by its appsettings.json) to a receiver in the test process
/// that verifies every signature with the specification's algorithm: a real run's events in order, retries with the same
/// webhook-id, giving up, 410, and receivers that are slow or dead while the run goes on regardless.
/// </summary>
public sealed class WebhookDeliveryTests(WebhookHostFixture fixture) : IClassFixture<WebhookHostFixture>, IAsyncLifetime
{
    private const string ApprovalPlan = """{"input":{"goal":"g","plan":[{"type":"approval","prompt":"Send it?"},{"type":"finish","output":{"sent":true}}]}}""";

    /// <summary>The subscriptions this test made: deleted after it, so the next test's runs do not reach them.</summary>
    private readonly List<string> _subscriptions = [];

    private HttpClient Http => fixture.Host.Http;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var id in _subscriptions)
        {
            await Http.SendAsync(HttpMethod.Delete, $"/v1/webhooks/{id}");
        }
    }

    private WebhookReceiver Receiver => fixture.Receiver;

    [Fact]
    public async Task ARealRun_DeliversAwaitingInputAndItsEnd_InOrder_SignedAndAsTheLogShowsThem()
    {
        var path = NewPath();
        var (id, _) = await SubscribeAsync(path, "run.awaiting_input", "run.worker.succeeded", "run.worker.failed", "run.cancelled");

        var runId = await Http.CreateRunAsync(ApprovalPlan);
        await Receiver.WaitForAsync(path, r => r.Count == 1, what: "run.awaiting_input");
        Assert.Equal(HttpStatusCode.Accepted, (await Http.SendAsync(HttpMethod.Post, $"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);
        var received = await Receiver.WaitForAsync(path, r => r.Count == 2, what: "the terminal event");

        Assert.Equal(["run.awaiting_input", "run.worker.succeeded"], received.Select(r => r.Type));
        Assert.All(received, r => Assert.True(r.SignatureValid, $"bad signature on {r.Id}: {r.Signature}"));
        Assert.All(received, r => Assert.Equal(runId, r.RunId));
        var log = await Http.EventsAsync(runId);
        foreach (var r in received)
        {
            var e = r.Json.GetProperty("data").GetProperty("event");
            var logged = log.Single(x => x.GetProperty("seq").GetInt64() == e.GetProperty("seq").GetInt64());
            Assert.Equal(logged.GetRawText(), e.GetRawText());
            Assert.Equal(logged.GetProperty("timestamp").GetString(), r.Json.GetProperty("timestamp").GetString());
            Assert.Equal($"msg_{runId["run_".Length..]}_{e.GetProperty("seq").GetInt64()}", r.Id);
        }

        var deliveries = await Eventually.GetAsync(
            () => Http.SendAsync(HttpMethod.Get, $"/v1/webhooks/{id}/deliveries"), d => d.Json.GetProperty("data").GetArrayLength() == 2, what: "two attempts");
        Assert.Equal(
            ["run.worker.succeeded delivered 200", "run.awaiting_input delivered 200"],
            deliveries.Json.GetProperty("data").EnumerateArray().Select(a =>
                $"{a.GetProperty("event_type").GetString()} {a.GetProperty("outcome").GetString()} {a.GetProperty("status_code").GetInt32()}"));
    }

    [Fact]
    public async Task AReceiverThatAnswers500_GetsRetriesWithTheSameWebhookId_UntilItAnswers2xx()
    {
        var path = NewPath();
        var answers = new ConcurrentAnswers(500, 500);
        Receiver.Answer(path, _ => Task.FromResult(answers.Next(204)));
        var (id, _) = await SubscribeAsync(path, "run.awaiting_input");

        await Http.CreateRunAsync(ApprovalPlan);
        var received = await Receiver.WaitForAsync(path, r => r.Count == 3, what: "three attempts");

        Assert.Single(received.Select(r => r.Id).Distinct());
        Assert.All(received, r => Assert.True(r.SignatureValid, $"bad signature: {r.Signature}"));
        Assert.Single(received.Select(r => r.Body).Distinct());
        var attempts = await Eventually.GetAsync(
            () => Http.SendAsync(HttpMethod.Get, $"/v1/webhooks/{id}/deliveries"), d => d.Json.GetProperty("data").GetArrayLength() == 3, what: "three attempts listed");
        Assert.Equal(
            ["3 delivered 204", "2 retrying 500", "1 retrying 500"],
            attempts.Json.GetProperty("data").EnumerateArray().Select(a =>
                $"{a.GetProperty("attempt").GetInt32()} {a.GetProperty("outcome").GetString()} {a.GetProperty("status_code").GetInt32()}"));
        var retrying = attempts.Json.GetProperty("data")[1];
        Assert.True(
            DateTimeOffset.Parse(retrying.GetProperty("next_attempt_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture)
            > DateTimeOffset.Parse(retrying.GetProperty("at").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task AReceiverThatAlwaysFails_IsGivenUpAfterTheSchedule()
    {
        var path = NewPath();
        Receiver.Answer(path, 503);
        var (id, _) = await SubscribeAsync(path, "run.awaiting_input");

        await Http.CreateRunAsync(ApprovalPlan);
        var attempts = await Eventually.GetAsync(
            () => Http.SendAsync(HttpMethod.Get, $"/v1/webhooks/{id}/deliveries"),
            d => d.Json.GetProperty("data").EnumerateArray().Any(a => a.GetProperty("outcome").GetString() == "failed"),
            TimeSpan.FromSeconds(60),
            "the delivery to be given up");

        var data = attempts.Json.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal([4, 3, 2, 1], data.Select(a => a.GetProperty("attempt").GetInt32()));
        Assert.Equal(["failed", "retrying", "retrying", "retrying"], data.Select(a => a.GetProperty("outcome").GetString()));
        Assert.Equal(JsonValueKind.Null, data[0].GetProperty("next_attempt_at").ValueKind);
        Assert.Equal(4, Receiver.ReceivedAt(path).Count);
        Assert.Equal("enabled", (await Http.SendAsync(HttpMethod.Get, $"/v1/webhooks/{id}")).Json.GetProperty("status").GetString());
    }

    [Fact]
    public async Task A410_DisablesTheSubscription_AndItGetsNothingMore()
    {
        var gonePath = NewPath();
        var okPath = NewPath();
        Receiver.Answer(gonePath, 410);
        var (goneId, _) = await SubscribeAsync(gonePath, "run.awaiting_input");

        await Http.CreateRunAsync(ApprovalPlan);
        var disabled = await Eventually.GetAsync(
            () => Http.SendAsync(HttpMethod.Get, $"/v1/webhooks/{goneId}"), r => r.Json.GetProperty("status").GetString() == "disabled", what: "disabled");
        Assert.Equal("endpoint_gone", disabled.Json.GetProperty("disabled_reason").GetString());
        Assert.Contains(
            (await Http.SendAsync(HttpMethod.Get, "/v1/webhooks")).Json.GetProperty("data").EnumerateArray(),
            w => w.GetProperty("id").GetString() == goneId && w.GetProperty("status").GetString() == "disabled");

        // A second run's event reaches another subscription, and not the disabled one.
        await SubscribeAsync(okPath, "run.awaiting_input");
        var second = await Http.CreateRunAsync(ApprovalPlan);
        await Receiver.WaitForAsync(okPath, r => r.Any(x => x.RunId == second), what: "the second run's event at the other receiver");
        Assert.Single(Receiver.ReceivedAt(gonePath));
        var attempts = (await Http.SendAsync(HttpMethod.Get, $"/v1/webhooks/{goneId}/deliveries")).Json.GetProperty("data");
        Assert.Equal(1, attempts.GetArrayLength());
        Assert.Equal("disabled", attempts[0].GetProperty("outcome").GetString());
    }

    [Fact]
    public async Task SlowAndDeadReceivers_DoNotSlowTheRun()
    {
        var slowPath = NewPath();
        var release = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        Receiver.Answer(slowPath, _ => release.Task); // never answers while the run goes on
        var (slowId, _) = await SubscribeAsync(slowPath);
        var dead = await Http.SendAsync(HttpMethod.Post, "/v1/webhooks", $$"""{"url":"http://127.0.0.1:{{ClosedPort()}}/hook"}""");
        Assert.Equal(HttpStatusCode.Created, dead.Status);
        var deadId = dead.Json.GetProperty("id").GetString()!;
        _subscriptions.Add(deadId);

        try
        {
            var runId = await Http.CreateRunAsync(ApprovalPlan);
            await Http.WaitForStatusAsync(runId, "awaiting_input");
            var signalled = DateTimeOffset.UtcNow;
            Assert.Equal(HttpStatusCode.Accepted, (await Http.SendAsync(HttpMethod.Post, $"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);
            await Http.WaitForStatusAsync(runId, "succeeded");
            var ran = DateTimeOffset.UtcNow - signalled;

            // The run ended though not one delivery has succeeded: the slow receiver holds every request past the attempt timeout.
            Assert.False(release.Task.IsCompleted);
            Assert.True(ran < TimeSpan.FromSeconds(15), $"the run took {ran} from its answer to its end");
            var slowAttempts = await Eventually.GetAsync(
                () => Http.SendAsync(HttpMethod.Get, $"/v1/webhooks/{slowId}/deliveries"),
                d => d.Json.GetProperty("data").EnumerateArray().Any(a => a.GetProperty("event_type").GetString() == "run.worker.succeeded"),
                what: "an attempt of the terminal event to the slow receiver");
            Assert.All(slowAttempts.Json.GetProperty("data").EnumerateArray(), a =>
            {
                Assert.NotEqual("delivered", a.GetProperty("outcome").GetString());
                Assert.StartsWith("Timed out", a.GetProperty("error").GetString(), StringComparison.Ordinal);
            });
            var deadAttempts = await Eventually.GetAsync(
                () => Http.SendAsync(HttpMethod.Get, $"/v1/webhooks/{deadId}/deliveries"),
                d => d.Json.GetProperty("data").GetArrayLength() >= 2,
                what: "attempts to the dead receiver");
            Assert.All(deadAttempts.Json.GetProperty("data").EnumerateArray(), a =>
            {
                Assert.Equal(JsonValueKind.Null, a.GetProperty("status_code").ValueKind);
                Assert.StartsWith("Connection failed", a.GetProperty("error").GetString(), StringComparison.Ordinal);
            });
        }
        finally
        {
            release.SetResult(200);
        }
    }

    [Fact]
    public async Task TheLocalHost_RefusesPrivateAndMetadataAddresses_EvenWithLoopbackAllowed()
    {
        foreach (var url in new[] { "http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data/", "https://192.168.1.1/hook", "http://[fe80::1]/hook" })
        {
            var response = await Http.SendAsync(HttpMethod.Post, "/v1/webhooks", $$"""{"url":"{{url}}"}""");
            Assert.Equal(HttpStatusCode.BadRequest, response.Status);
            Assert.Equal("invalid_webhook_url", response.Json.GetProperty("reason_code").GetString());
        }
    }

    private static string NewPath() => "hooks/" + Guid.NewGuid().ToString("N")[..12];

    private async Task<(string Id, string Secret)> SubscribeAsync(string path, params string[] events)
    {
        var body = events.Length == 0
            ? JsonSerializer.Serialize(new { url = Receiver.Url(path) })
            : JsonSerializer.Serialize(new { url = Receiver.Url(path), events });
        var created = await Http.SendAsync(HttpMethod.Post, "/v1/webhooks", body);
        Assert.True(created.Status == HttpStatusCode.Created, created.ToString());
        var secret = created.Json.GetProperty("secret").GetString()!;
        Receiver.Verify(path, secret);
        var id = created.Json.GetProperty("id").GetString()!;
        _subscriptions.Add(id);
        return (id, secret);
    }

    /// <summary>A loopback port nothing listens on.</summary>
    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Answers the given statuses in turn, then the fallback.</summary>
    private sealed class ConcurrentAnswers(params int[] first)
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<int> _queue = new(first);

        public int Next(int fallback) => _queue.TryDequeue(out var status) ? status : fallback;
    }
}
