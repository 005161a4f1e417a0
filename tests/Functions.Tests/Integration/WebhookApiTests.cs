using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgentRuns.Functions.Storage;
using AgentRuns.Functions.Tests.Support;
using AgentRuns.Functions.Webhooks;
using static AgentRuns.Functions.Tests.Support.RunAssertions;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>
/// The webhooks API and the outbox in the Durable test host with real tables: subscriptions per tenant, the secret shown once,
/// bad requests that change nothing, another tenant that sees none of it, and the deliveries a run's events make. The
/// receivers are <see cref="RecordingWebhookTransport"/>; the real HTTP path is tested end to end over the local host.
/// </summary>
public sealed class WebhookApiTests
{
    private const string Approval = """{"type":"approval","prompt":"Send it?"}""";

    [Fact]
    public async Task CreateListGetDelete_ShowTheSecretOnlyInTheCreate()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var url = Url();

        var created = await api.PostAsync("/v1/webhooks", $$"""{"url":"{{url}}","events":["run.worker.succeeded","run.awaiting_input"]}""");

        Assert.Equal(201, created.Status);
        var id = created.Json.GetProperty("id").GetString()!;
        Assert.Matches("^wh_[0-9a-z]{26}$", id);
        Assert.Equal($"/v1/webhooks/{id}", created.Headers.Location.ToString());
        Assert.Equal("webhook", created.Json.GetProperty("object").GetString());
        Assert.Equal(url, created.Json.GetProperty("url").GetString());
        Assert.Equal(["run.awaiting_input", "run.worker.succeeded"], created.Json.GetProperty("events").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("enabled", created.Json.GetProperty("status").GetString());
        var secret = created.Json.GetProperty("secret").GetString()!;
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        Assert.Equal(32, Convert.FromBase64String(secret["whsec_".Length..]).Length);

        var got = await api.GetAsync($"/v1/webhooks/{id}");
        Assert.Equal(200, got.Status);
        Assert.False(got.Json.TryGetProperty("secret", out _));
        Assert.DoesNotContain(secret, got.Body, StringComparison.Ordinal);
        Assert.Equal(created.Json.GetProperty("created_at").GetString(), got.Json.GetProperty("created_at").GetString());
        Assert.Equal(JsonValueKind.Null, got.Json.GetProperty("disabled_at").ValueKind);

        var list = await api.GetAsync("/v1/webhooks");
        Assert.Equal(200, list.Status);
        Assert.Equal([id], list.Json.GetProperty("data").EnumerateArray().Select(w => w.GetProperty("id").GetString()));
        Assert.DoesNotContain(secret, list.Body, StringComparison.Ordinal);

        var deleted = await api.DeleteAsync($"/v1/webhooks/{id}");
        Assert.Equal(204, deleted.Status);
        Assert.Equal("", deleted.Body);
        var gone = await api.GetAsync($"/v1/webhooks/{id}");
        Assert.Equal(404, gone.Status);
        Assert.Equal("webhook_not_found", gone.ReasonCode);
        Assert.Equal(404, (await api.DeleteAsync($"/v1/webhooks/{id}")).Status);
        Assert.Empty((await api.GetAsync("/v1/webhooks")).Json.GetProperty("data").EnumerateArray());
    }

    [Fact]
    public async Task WithoutEvents_ASubscriptionGetsEverySupportedType()
    {
        var api = await (await RunsTestHost.GetAsync()).NewTenantAsync();
        var created = await api.PostAsync("/v1/webhooks", $$"""{"url":"{{Url()}}"}""");
        Assert.Equal(201, created.Status);
        Assert.Equal(
            ["run.awaiting_input", "run.input_reminder", "run.input_extended", "run.worker.succeeded", "run.worker.failed", "run.cancelled"],
            created.Json.GetProperty("events").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task ARetriedCreate_WithTheSameIdempotencyKey_GetsTheSameSubscriptionAndSecret()
    {
        var api = await (await RunsTestHost.GetAsync()).NewTenantAsync();
        var headers = new Dictionary<string, string> { ["Idempotency-Key"] = Guid.NewGuid().ToString("N") };
        var body = $$"""{"url":"{{Url()}}"}""";

        var first = await api.PostAsync("/v1/webhooks", body, headers);
        var second = await api.PostAsync("/v1/webhooks", body, headers);

        Assert.Equal(201, first.Status);
        Assert.Equal(201, second.Status);
        Assert.Equal("true", second.Headers["Idempotent-Replayed"].ToString());
        Assert.Equal(first.Body, second.Body);
        Assert.Single((await api.GetAsync("/v1/webhooks")).Json.GetProperty("data").EnumerateArray());
        Assert.Equal(422, (await api.PostAsync("/v1/webhooks", $$"""{"url":"{{Url()}}"}""", headers)).Status);
    }

    public static TheoryData<string, int, string> BadBodies => new()
    {
        { """{}""", 400, "invalid_request" },
        { """{"url":null}""", 400, "invalid_request" },
        { """{"url":42}""", 400, "invalid_request" },
        { """{"url":["https://93.184.215.14/"]}""", 400, "invalid_request" },
        { """{"url":"https://93.184.215.14/h","events":"run.cancelled"}""", 400, "invalid_request" },
        { """{"url":"https://93.184.215.14/h","events":[]}""", 400, "invalid_request" },
        { """{"url":"https://93.184.215.14/h","events":["run.created"]}""", 400, "invalid_request" },
        { """{"url":"https://93.184.215.14/h","events":["run.signal_received"]}""", 400, "invalid_request" },
        { """{"url":"https://93.184.215.14/h","events":["run.cancelled","*"]}""", 400, "invalid_request" },
        { """{"url":"https://93.184.215.14/h","events":[1]}""", 400, "invalid_request" },
        { """{"url":"https://93.184.215.14/h","events":[null]}""", 400, "invalid_request" },
        { """{"url":"https://93.184.215.14/h","secret":"whsec_mine"}""", 400, "invalid_request" },
        { """{"url":"https://93.184.215.14/h","URL":"https://93.184.215.14/h"}""", 400, "invalid_request" },
        { """{"url":"https://93.184.215.14/h","url":"https://93.184.215.14/i"}""", 400, "invalid_request" },
        { """[{"url":"https://93.184.215.14/h"}]""", 400, "invalid_request" },
        { """{"url":"https://93.184.215.14/h""", 400, "invalid_request" },
        { """{"url":"http://93.184.215.14/h"}""", 400, "invalid_webhook_url" },
        { """{"url":"https://127.0.0.1/h"}""", 400, "invalid_webhook_url" },
        { """{"url":"https://localhost/h"}""", 400, "invalid_webhook_url" },
        { """{"url":"https://169.254.169.254/latest/meta-data/"}""", 400, "invalid_webhook_url" },
        { """{"url":"https://10.0.0.1/h"}""", 400, "invalid_webhook_url" },
        { """{"url":"https://192.168.0.1/h"}""", 400, "invalid_webhook_url" },
        { """{"url":"https://[::1]/h"}""", 400, "invalid_webhook_url" },
        { """{"url":"https://[::ffff:127.0.0.1]/h"}""", 400, "invalid_webhook_url" },
        { """{"url":"https://2130706433/h"}""", 400, "invalid_webhook_url" },
        { """{"url":"https://0x7f.1/h"}""", 400, "invalid_webhook_url" },
        { """{"url":"https://user:pw@93.184.215.14/h"}""", 400, "invalid_webhook_url" },
        { """{"url":"https://no-such-host.invalid/h"}""", 400, "invalid_webhook_url" },
        { """{"url":"not a url"}""", 400, "invalid_webhook_url" },
        { """{"url":""}""", 400, "invalid_webhook_url" },
        { "{\"url\":\"https://93.184.215.14/" + new string('a', 2100) + "\"}", 400, "invalid_webhook_url" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task ABadCreate_Gets4xxWithAReasonCode_AndCreatesNothing(string body, int status, string reasonCode)
    {
        var api = await (await RunsTestHost.GetAsync()).NewTenantAsync();

        var response = await api.PostAsync("/v1/webhooks", body);

        Assert.Equal(status, response.Status);
        Assert.Equal(reasonCode, response.ReasonCode);
        Assert.Equal("application/problem+json", response.ContentType);
        Assert.Empty((await api.GetAsync("/v1/webhooks")).Json.GetProperty("data").EnumerateArray());
    }

    [Theory]
    [InlineData("GET", "/v1/webhooks/wh_'or'1'eq'1", 400, "invalid_request")]
    [InlineData("DELETE", "/v1/webhooks/wh_%2F..%2F", 400, "invalid_request")]
    [InlineData("GET", "/v1/webhooks/wh_00000000000000000000000000/deliveries?limit=5", 404, "webhook_not_found")]
    [InlineData("GET", "/v1/webhooks/wh_00000000000000000000000000/deliveries?limit=0", 400, "invalid_request")]
    [InlineData("GET", "/v1/webhooks/wh_00000000000000000000000000/deliveries?limit=101", 400, "invalid_request")]
    [InlineData("GET", "/v1/webhooks/wh_00000000000000000000000000", 404, "webhook_not_found")]
    [InlineData("GET", "/v1/webhooks/run_00000000000000000000000000", 404, "webhook_not_found")]
    public async Task BadOrUnknownIds_AreRefused(string method, string path, int status, string reasonCode)
    {
        var api = await (await RunsTestHost.GetAsync()).NewTenantAsync();
        var response = await api.SendAsync(method, path, null);
        Assert.Equal(status, response.Status);
        Assert.Equal(reasonCode, response.ReasonCode);
    }

    [Fact]
    public async Task ATenant_HasAtMostMaxPerTenantWebhooks_EvenWhenCreatesRace_AndADeleteFreesASlot()
    {
        var api = await (await RunsTestHost.GetAsync()).NewTenantAsync();
        var max = new WebhookOptions().MaxPerTenant;

        // All at once: each create that counted before another landed must count again, not slip past the limit.
        var responses = await Task.WhenAll(Enumerable.Range(0, max + 10).Select(_ => api.PostAsync("/v1/webhooks", $$"""{"url":"{{Url()}}"}""")));

        Assert.Equal(max, responses.Count(r => r.Status == 201));
        Assert.All(responses.Where(r => r.Status != 201), r => Assert.Equal((400, "invalid_request"), (r.Status, r.ReasonCode)));
        var listed = (await api.GetAsync("/v1/webhooks")).Json.GetProperty("data");
        Assert.Equal(max, listed.GetArrayLength());

        Assert.Equal(204, (await api.DeleteAsync($"/v1/webhooks/{listed[0].GetProperty("id").GetString()}")).Status);
        Assert.Equal(201, (await api.PostAsync("/v1/webhooks", $$"""{"url":"{{Url()}}"}""")).Status);
        Assert.Equal(400, (await api.PostAsync("/v1/webhooks", $$"""{"url":"{{Url()}}"}""")).Status);
        Assert.Equal(max, (await api.GetAsync("/v1/webhooks")).Json.GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task AnotherTenant_CanSeeOrTouchNoneOfIt()
    {
        var host = await RunsTestHost.GetAsync();
        var owner = await host.NewTenantAsync();
        var other = await host.NewTenantAsync();
        var url = Url();
        var id = (await owner.PostAsync("/v1/webhooks", $$"""{"url":"{{url}}","events":["run.awaiting_input"]}""")).Json.GetProperty("id").GetString()!;
        var runId = await owner.CreateRunAsync(Plan(Approval));
        await Eventually.GetAsync(() => owner.GetAsync($"/v1/webhooks/{id}/deliveries"), r => r.Json.GetProperty("data").GetArrayLength() == 1, what: "the delivery");
        const string Missing = "wh_00000000000000000000000000";

        foreach (var (method, path) in new[] { ("GET", $"/v1/webhooks/{id}"), ("GET", $"/v1/webhooks/{id}/deliveries"), ("DELETE", $"/v1/webhooks/{id}") })
        {
            var theirs = await other.SendAsync(method, path, null);
            var nobodys = await other.SendAsync(method, path.Replace(id, Missing, StringComparison.Ordinal), null);
            Assert.Equal(404, theirs.Status);
            Assert.Equal("webhook_not_found", theirs.ReasonCode);
            Assert.Equal(nobodys.Body.Replace(Missing, id, StringComparison.Ordinal), theirs.Body);
        }

        Assert.Empty((await other.GetAsync("/v1/webhooks")).Json.GetProperty("data").EnumerateArray());
        Assert.Equal(200, (await owner.GetAsync($"/v1/webhooks/{id}")).Status);

        // The other tenant's runs make no deliveries to it either.
        var theirRun = await other.CreateRunAsync(Plan(Approval));
        await other.WaitForEventAsync(theirRun, "run.awaiting_input");
        var received = host.Receivers.ReceivedBy(url);
        Assert.Equal([runId], received.Select(r => RunIdOf(r)));
    }

    [Fact]
    public async Task ARunsEvents_MakeDeliveriesOnlyForTheTypesEachSubscriptionWants()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var (awaitingUrl, cancelUrl, allUrl) = (Url(), Url(), Url());

        // The receivers hold every request until the test has looked at the outbox.
        var release = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        foreach (var u in new[] { awaitingUrl, cancelUrl, allUrl })
        {
            host.Receivers.Answer(u, _ => release.Task);
        }

        var awaiting = await CreateAsync(api, awaitingUrl, "run.awaiting_input");
        var cancels = await CreateAsync(api, cancelUrl, "run.cancelled");
        var all = await CreateAsync(api, allUrl, null);
        var runId = await api.CreateRunAsync(Plan(Approval));
        await api.WaitForEventAsync(runId, "run.awaiting_input");
        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);
        var events = await api.WaitForEndAsync(runId);
        var awaitingSeq = events.Single(e => Type(e) == "run.awaiting_input").GetProperty("seq").GetInt64();
        var endSeq = events[^1].GetProperty("seq").GetInt64();

        var pending = await Eventually.GetAsync(
            () => host.WebhookOutbox.PendingAsync(api.TenantId), p => p.Count == 3, what: "three deliveries in the outbox");
        Assert.Equal(
            new[] { $"{awaitingSeq} run.awaiting_input {all}", $"{awaitingSeq} run.awaiting_input {awaiting}", $"{endSeq} run.worker.succeeded {all}" }
                .Order(StringComparer.Ordinal),
            pending.Select(d => $"{d.Seq} {d.EventType} {d.WebhookId}").Order(StringComparer.Ordinal));
        Assert.All(pending, d => Assert.Equal(runId, d.RunId));

        release.SetResult(200);
        await Eventually.GetAsync(() => host.WebhookOutbox.PendingAsync(api.TenantId), p => p.Count == 0, what: "the outbox to empty");
        Assert.Equal(["run.awaiting_input"], host.Receivers.ReceivedBy(awaitingUrl).Select(r => r.Type));
        Assert.Equal(["run.awaiting_input", "run.worker.succeeded"], host.Receivers.ReceivedBy(allUrl).Select(r => r.Type).Order(StringComparer.Ordinal));
        Assert.Empty(host.Receivers.ReceivedBy(cancelUrl));
        Assert.Empty((await api.GetAsync($"/v1/webhooks/{cancels}/deliveries")).Json.GetProperty("data").EnumerateArray());
    }

    [Fact]
    public async Task ADelivery_IsSignedForItsSubscription_AndListedAsDelivered()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var url = Url();
        var created = await api.PostAsync("/v1/webhooks", $$"""{"url":"{{url}}","events":["run.awaiting_input"]}""");
        var (id, secret) = (created.Json.GetProperty("id").GetString()!, created.Json.GetProperty("secret").GetString()!);

        var runId = await api.CreateRunAsync(Plan(Approval));
        var streamEvent = await api.WaitForEventAsync(runId, "run.awaiting_input");

        var received = (await Eventually.GetAsync(() => Task.FromResult(host.Receivers.ReceivedBy(url)), r => r.Count == 1, what: "the delivery"))[0];
        var signed = $"{received.Headers["webhook-id"]}.{received.Headers["webhook-timestamp"]}.{received.Body}";
        var expected = "v1," + Convert.ToBase64String(HMACSHA256.HashData(Convert.FromBase64String(secret["whsec_".Length..]), Encoding.UTF8.GetBytes(signed)));
        Assert.Equal(expected, received.Headers["webhook-signature"]);
        using var body = JsonDocument.Parse(received.Body);
        Assert.Equal(runId, body.RootElement.GetProperty("data").GetProperty("run_id").GetString());
        Assert.Equal(streamEvent.GetRawText(), body.RootElement.GetProperty("data").GetProperty("event").GetRawText());

        var deliveries = await Eventually.GetAsync(
            () => api.GetAsync($"/v1/webhooks/{id}/deliveries"), r => r.Json.GetProperty("data").GetArrayLength() == 1, what: "the attempt");
        var attempt = deliveries.Json.GetProperty("data")[0];
        Assert.Equal("webhook.delivery_attempt", attempt.GetProperty("object").GetString());
        Assert.Equal(received.Headers["webhook-id"], attempt.GetProperty("delivery_id").GetString());
        Assert.Equal("run.awaiting_input", attempt.GetProperty("event_type").GetString());
        Assert.Equal(runId, attempt.GetProperty("run_id").GetString());
        Assert.Equal(streamEvent.GetProperty("seq").GetInt64(), attempt.GetProperty("seq").GetInt64());
        Assert.Equal(1, attempt.GetProperty("attempt").GetInt32());
        Assert.Equal("delivered", attempt.GetProperty("outcome").GetString());
        Assert.Equal(200, attempt.GetProperty("status_code").GetInt32());
        Assert.Equal(JsonValueKind.Null, attempt.GetProperty("next_attempt_at").ValueKind);
        Assert.Equal(JsonValueKind.Null, deliveries.Json.GetProperty("next_cursor").ValueKind);
    }

    [Fact]
    public async Task AFailedAttempt_IsRetriedWithTheSameWebhookId_AndAttemptsListNewestFirstInPages()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var url = Url();
        var answers = new Queue<int>([500, 503]);
        host.Receivers.Answer(url, _ => Task.FromResult(answers.TryDequeue(out var s) ? s : 204));
        var id = await CreateAsync(api, url, "run.awaiting_input");

        var runId = await api.CreateRunAsync(Plan(Approval));
        await api.WaitForEventAsync(runId, "run.awaiting_input");

        // Attempt 1 at once, attempt 2 after the schedule's 5 s (in process), attempt 3 (the third answer) from a pass 5 minutes on.
        var two = await Eventually.GetAsync(
            () => api.GetAsync($"/v1/webhooks/{id}/deliveries"), r => r.Json.GetProperty("data").GetArrayLength() == 2, TimeSpan.FromSeconds(30), "two attempts");
        Assert.Equal(["retrying", "retrying"], two.Json.GetProperty("data").EnumerateArray().Select(a => a.GetProperty("outcome").GetString()));

        // The second attempt is recorded before its delivery is rescheduled: until then the delivery is still claimed by it (a
        // pass that took it meanwhile would lose its claim to that reschedule and attempt nothing).
        await Eventually.GetAsync(() => host.WebhookOutbox.PendingAsync(api.TenantId), p => p is [{ Attempts: 2 }], what: "the second attempt's reschedule");
        await host.WebhookDispatcher(ahead: TimeSpan.FromMinutes(6)).RunOnceAsync(CancellationToken.None, d => d.TenantId == api.TenantId);

        var firstPage = await api.GetAsync($"/v1/webhooks/{id}/deliveries?limit=2");
        var attempts = firstPage.Json.GetProperty("data").EnumerateArray().ToList();
        var cursor = firstPage.Json.GetProperty("next_cursor").GetString()!;
        attempts.AddRange((await api.GetAsync($"/v1/webhooks/{id}/deliveries?limit=2&cursor={cursor}")).Json.GetProperty("data").EnumerateArray());
        Assert.Equal([3, 2, 1], attempts.Select(a => a.GetProperty("attempt").GetInt32()));
        Assert.Equal(["delivered", "retrying", "retrying"], attempts.Select(a => a.GetProperty("outcome").GetString()));
        Assert.Equal([204, 503, 500], attempts.Select(a => a.GetProperty("status_code").GetInt32()));
        Assert.Single(attempts.Select(a => a.GetProperty("delivery_id").GetString()).Distinct());
        Assert.Single(host.Receivers.ReceivedBy(url).Select(r => r.Headers["webhook-id"]).Distinct());
        Assert.Equal(3, host.Receivers.ReceivedBy(url).Count);
        Assert.Equal(400, (await api.GetAsync($"/v1/webhooks/{id}/deliveries?cursor=nope")).Status);
    }

    [Fact]
    public async Task A410_DisablesTheSubscription_AndNothingMoreIsSentToIt()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var url = Url();
        host.Receivers.Answer(url, 410);
        var id = await CreateAsync(api, url, null);

        var runId = await api.CreateRunAsync(Plan(Approval));
        var disabled = await Eventually.GetAsync(
            () => api.GetAsync($"/v1/webhooks/{id}"), r => r.Json.GetProperty("status").GetString() == "disabled", what: "the subscription to be disabled");
        Assert.Equal("endpoint_gone", disabled.Json.GetProperty("disabled_reason").GetString());
        Assert.NotEqual(JsonValueKind.Null, disabled.Json.GetProperty("disabled_at").ValueKind);
        var attempt = (await api.GetAsync($"/v1/webhooks/{id}/deliveries")).Json.GetProperty("data")[0];
        Assert.Equal("disabled", attempt.GetProperty("outcome").GetString());
        Assert.Equal(410, attempt.GetProperty("status_code").GetInt32());

        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);
        await api.WaitForEndAsync(runId);
        Assert.Empty(await host.WebhookOutbox.PendingAsync(api.TenantId));
        Assert.Single(host.Receivers.ReceivedBy(url));
    }

    [Fact]
    public async Task ADeliveryWhoseEventIsNotInTheLog_WaitsWhileYoung_AndIsDroppedAfterTheGrace()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var url = Url();
        var id = await CreateAsync(api, url, null);
        var runId = await api.CreateRunAsync(Plan(Approval));
        var awaiting = await api.WaitForEventAsync(runId, "run.awaiting_input");
        await Eventually.GetAsync(() => host.WebhookOutbox.PendingAsync(api.TenantId), p => p.Count == 0, what: "the real delivery");
        var now = DateTimeOffset.UtcNow;
        var notYet = new WebhookDelivery(api.TenantId, runId, 99, "run.cancelled", id, WebhookIds.Message(runId, 99), now, now, 0);
        var otherType = new WebhookDelivery(
            api.TenantId, runId, awaiting.GetProperty("seq").GetInt64(), "run.cancelled", id, "msg_lost_race", now, now, 0);
        await host.WebhookOutbox.AddAsync([notYet, otherType]);
        bool Mine(WebhookDelivery d) => d.TenantId == api.TenantId;

        var young = await host.WebhookDispatcher().RunOnceAsync(CancellationToken.None, Mine);
        Assert.Equal((2, 1, 1), (young.Looked, young.Waiting, young.Dropped));
        Assert.Equal([99L], (await host.WebhookOutbox.PendingAsync(api.TenantId)).Select(d => d.Seq));

        var old = await host.WebhookDispatcher(ahead: TimeSpan.FromMinutes(10)).RunOnceAsync(CancellationToken.None, Mine);
        Assert.Equal((1, 1), (old.Looked, old.Dropped));
        Assert.Empty(await host.WebhookOutbox.PendingAsync(api.TenantId));
        Assert.Equal(["run.awaiting_input"], host.Receivers.ReceivedBy(url).Select(r => r.Type));
    }

    [Fact]
    public async Task ADeletedSubscription_GetsNothingMore_EvenWhatWasQueued()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var url = Url();
        host.Receivers.Answer(url, 500);
        var id = await CreateAsync(api, url, null);
        var runId = await api.CreateRunAsync(Plan(Approval));
        await Eventually.GetAsync(() => Task.FromResult(host.Receivers.ReceivedBy(url)), r => r.Count == 1, what: "the first attempt");

        Assert.Equal(204, (await api.DeleteAsync($"/v1/webhooks/{id}")).Status);
        var pass = await host.WebhookDispatcher(ahead: TimeSpan.FromMinutes(1)).RunOnceAsync(CancellationToken.None, d => d.TenantId == api.TenantId);

        Assert.Equal((1, 1), (pass.Looked, pass.Dropped));
        Assert.Empty(await host.WebhookOutbox.PendingAsync(api.TenantId));
        Assert.Single(host.Receivers.ReceivedBy(url));
        Assert.Equal(runId, RunIdOf(host.Receivers.ReceivedBy(url)[0]));
    }

    [Fact]
    public async Task RemindersExtensionsAndATimeout_AreDeliveredAsTheLogHasThem()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var url = Url();
        await CreateAsync(api, url, null);
        var runId = await api.CreateRunAsync(Plan("""{"type":"approval","timeout_seconds":3,"reminders":[2]}"""));
        var awaiting = await api.WaitForEventAsync(runId, "run.awaiting_input");
        var requestId = Value(awaiting).GetProperty("request_id").GetString()!;
        Assert.Equal(200, (await api.PostAsync($"/v1/runs/{runId}/requests/{requestId}/extend", """{"extend_by_seconds":1}""")).Status);

        var events = await api.WaitForEndAsync(runId, TimeSpan.FromSeconds(30));
        var wanted = events.Where(e => WebhookEvents.IsSupported(Type(e))).ToList();
        Assert.Equal(
            ["run.awaiting_input", "run.cancelled", "run.input_extended", "run.input_reminder"], Types(wanted).Order(StringComparer.Ordinal));
        var received = await Eventually.GetAsync(
            () => Task.FromResult(host.Receivers.ReceivedBy(url)), r => r.Count == wanted.Count, what: "every webhook event of the run");
        foreach (var e in wanted)
        {
            var delivered = received.Single(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("data").GetProperty("event").GetProperty("seq").GetInt64()
                                                  == e.GetProperty("seq").GetInt64());
            Assert.Equal(e.GetRawText(), JsonDocument.Parse(delivered.Body).RootElement.GetProperty("data").GetProperty("event").GetRawText());
        }
    }

    /// <summary>A fresh public URL per subscription, so each test reads only its own receiver.</summary>
    private static string Url() => $"https://93.184.215.14/hooks/{Guid.NewGuid():N}";

    private static async Task<string> CreateAsync(ApiClient api, string url, string? eventType)
    {
        var body = eventType is null ? $$"""{"url":"{{url}}"}""" : $$"""{"url":"{{url}}","events":["{{eventType}}"]}""";
        var response = await api.PostAsync("/v1/webhooks", body);
        Assert.True(response.Status == 201, response.ToString());
        return response.Json.GetProperty("id").GetString()!;
    }

    private static string RunIdOf(ReceivedWebhook received) =>
        JsonDocument.Parse(received.Body).RootElement.GetProperty("data").GetProperty("run_id").GetString()!;
}
