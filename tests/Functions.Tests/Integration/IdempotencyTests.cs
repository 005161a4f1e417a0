using AgentRuns.Functions.Idempotency;
using AgentRuns.Functions.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using static AgentRuns.Functions.Tests.Support.RunAssertions;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>Safe retries: the first response is replayed, nothing happens twice.</summary>
public sealed class IdempotencyTests
{
    private const string Create = """{"input":{"goal":"g","plan":[{"type":"approval"}]}}""";

    private static Dictionary<string, string> Key(string key) => new() { ["Idempotency-Key"] = key };

    [Fact]
    public async Task ARetriedCreate_ReplaysTheFirstResponse_AndMakesNoSecondRun()
    {
        var api = await (await RunsTestHost.GetAsync()).NewTenantAsync();
        var key = Guid.NewGuid().ToString();

        var first = await api.PostAsync("/v1/runs", Create, Key(key));
        var retry = await api.PostAsync("/v1/runs", Create, new Dictionary<string, string> { ["idempotency-key"] = key });

        Assert.Equal(201, first.Status);
        Assert.Equal(201, retry.Status);
        Assert.Equal(first.Body, retry.Body);
        Assert.Equal("true", retry.Headers["Idempotent-Replayed"].ToString());
        Assert.False(first.Headers.ContainsKey("Idempotent-Replayed"));
        Assert.Equal(first.Headers.Location.ToString(), retry.Headers.Location.ToString());
        Assert.Equal(1, (await api.GetAsync("/v1/runs?limit=100")).Json.GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task AGivenBackKey_IsAnAbandonedClaimToAVersionWithoutTheFlag_AndACorrectedBodyIsStillANewRequest()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var key = Guid.NewGuid().ToString();
        Assert.Equal(400, (await api.PostAsync("/v1/runs", """{"input":"not an object"}""", Key(key))).Status);

        // The version before the flag (one rolled back to, or still serving during a deployment) replays a claim in any state
        // but in_flight as a stored response, here one with status 0 and no body; an in-flight claim whose lock has lapsed
        // it takes over, as this version does.
        var row = IdempotencyStore.RowKeyFor("POST", "/v1/runs", key);
        var stored = (await host.Tables.Idempotency.GetEntityAsync<Azure.Data.Tables.TableEntity>(api.TenantId, row)).Value;
        Assert.Equal(IdempotencyEntity.InFlight, stored.GetString("State"));
        Assert.True(stored.GetDateTimeOffset("LockedUntil") <= DateTimeOffset.UtcNow);

        var corrected = await api.PostAsync("/v1/runs", Create, Key(key));
        Assert.True(corrected.Status == 201, corrected.ToString());
    }

    [Fact]
    public async Task TheSameKeyWithAnotherBody_Is422_AndABodyKeyCountsLikeTheHeader()
    {
        var api = await (await RunsTestHost.GetAsync()).NewTenantAsync();
        var key = Guid.NewGuid().ToString();
        Assert.Equal(201, (await api.PostAsync("/v1/runs", $$"""{"input":{"goal":"g"},"idempotency_key":"{{key}}"}""")).Status);

        var reused = await api.PostAsync("/v1/runs", """{"input":{"goal":"other"}}""", Key(key));
        Assert.Equal(422, reused.Status);
        Assert.Equal("idempotency_key_reused", reused.ReasonCode);

        var conflict = await api.PostAsync("/v1/runs", $$"""{"input":{"goal":"g"},"idempotency_key":"{{key}}"}""", Key("another"));
        Assert.Equal(400, conflict.Status);
        Assert.Equal("invalid_request", conflict.ReasonCode);
        Assert.Equal(1, (await api.GetAsync("/v1/runs?limit=100")).Json.GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task AnInvalidRequest_IsNotStored_SoTheKeyCanBeUsedForTheCorrectedRequest()
    {
        var api = await (await RunsTestHost.GetAsync()).NewTenantAsync();
        var key = Guid.NewGuid().ToString();
        Assert.Equal(400, (await api.PostAsync("/v1/runs", """{"input":{}}""", Key(key))).Status);
        Assert.Equal(201, (await api.PostAsync("/v1/runs", Create, Key(key))).Status);
    }

    [Fact]
    public async Task AKeyStillInFlight_Is409IdempotencyKeyInUse()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var key = Guid.NewGuid().ToString();
        var store = host.Services.GetRequiredService<IdempotencyStore>();
        var body = System.Text.Json.JsonDocument.Parse(Create).RootElement;
        await store.ClaimAsync(api.TenantId, "POST", "/v1/runs", key, IdempotencyStore.Fingerprint(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(body)), CancellationToken.None);

        var response = await api.PostAsync("/v1/runs", Create, Key(key));
        Assert.Equal(409, response.Status);
        Assert.Equal("idempotency_key_in_use", response.ReasonCode);
        Assert.Equal(0, (await api.GetAsync("/v1/runs")).Json.GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task ARetryAfterTheFirstAttemptDiedMidRequest_FindsItsRun_AndMakesNoSecond()
    {
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var key = Guid.NewGuid().ToString();
        var first = await api.PostAsync("/v1/runs", Create, Key(key));
        Assert.Equal(201, first.Status);

        // As if the process died after creating the run but before storing the response: the claim is left in flight
        // and its lock runs out.
        var row = IdempotencyStore.RowKeyFor("POST", "/v1/runs", key);
        var claim = (await host.Tables.Idempotency.GetEntityAsync<IdempotencyEntity>(api.TenantId, row)).Value;
        claim.State = IdempotencyEntity.InFlight;
        claim.LockedUntil = DateTimeOffset.UtcNow.AddSeconds(-1);
        await host.Tables.Idempotency.UpdateEntityAsync(claim, claim.ETag);

        var retry = await api.PostAsync("/v1/runs", Create, Key(key));

        Assert.Equal(201, retry.Status);
        Assert.Equal(first.Json.GetProperty("id").GetString(), retry.Json.GetProperty("id").GetString());
        Assert.Equal(1, (await api.GetAsync("/v1/runs?limit=100")).Json.GetProperty("data").GetArrayLength());
        await api.WaitForEventAsync(first.Json.GetProperty("id").GetString()!, "run.awaiting_input");
    }

    [Fact]
    public async Task TwentyParallelCreatesWithOneKey_MakeOneRun()
    {
        var api = await (await RunsTestHost.GetAsync()).NewTenantAsync();
        var key = Guid.NewGuid().ToString();
        using var start = new ManualResetEventSlim(false);
        var posts = Enumerable.Range(0, 20).Select(_ => Task.Run(async () =>
        {
            start.Wait();
            return await api.PostAsync("/v1/runs", Create, Key(key));
        })).ToList();
        start.Set();
        var responses = await Task.WhenAll(posts);

        Assert.All(responses, r => Assert.True(r.Status == 201 || (r.Status == 409 && r.ReasonCode == "idempotency_key_in_use"), r.ToString()));
        var ids = responses.Where(r => r.Status == 201).Select(r => r.Json.GetProperty("id").GetString()).Distinct().ToList();
        Assert.Single(ids);
        var runs = (await api.GetAsync("/v1/runs?limit=100")).Json.GetProperty("data");
        Assert.Equal(1, runs.GetArrayLength());
        Assert.Equal(ids[0], runs[0].GetProperty("id").GetString());
    }

    [Fact]
    public async Task ParallelAndRetriedSignalsWithOneKey_RaiseOneEvent()
    {
        var api = await (await RunsTestHost.GetAsync()).NewTenantAsync();
        var runId = await api.CreateRunAsync(Create);
        await api.WaitForEventAsync(runId, "run.awaiting_input");
        var key = Guid.NewGuid().ToString();

        using var start = new ManualResetEventSlim(false);
        var signals = Enumerable.Range(0, 10).Select(_ => Task.Run(async () =>
        {
            start.Wait();
            return await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""", Key(key));
        })).ToList();
        start.Set();
        var responses = await Task.WhenAll(signals);
        var retry = await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""", Key(key));

        Assert.All(responses, r => Assert.True(r.Status == 202 || (r.Status == 409 && r.ReasonCode == "idempotency_key_in_use"), r.ToString()));
        Assert.Equal(202, retry.Status);
        Assert.Equal("true", retry.Headers["Idempotent-Replayed"].ToString());
        var events = await api.WaitForEndAsync(runId);
        Assert.Single(events, e => Type(e) == "run.signal_received");
    }

    [Fact]
    public async Task KeysAreScopedByPath_SoOneKeyOnTwoRunsIsTwoRequests()
    {
        var api = await (await RunsTestHost.GetAsync()).NewTenantAsync();
        var a = await api.CreateRunAsync(Create);
        var b = await api.CreateRunAsync(Create);
        await api.WaitForEventAsync(a, "run.awaiting_input");
        await api.WaitForEventAsync(b, "run.awaiting_input");

        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{a}/signal", """{"action":"approve"}""", Key("shared"))).Status);
        var second = await api.PostAsync($"/v1/runs/{b}/signal", """{"action":"approve"}""", Key("shared"));
        Assert.Equal(202, second.Status);
        Assert.False(second.Headers.ContainsKey("Idempotent-Replayed"));
    }

    [Fact]
    public async Task ThePurge_DeletesExpiredKeysOnly()
    {
        var host = await RunsTestHost.GetAsync();
        var table = host.Tables.Idempotency;
        var tenant = "purge-" + Guid.NewGuid().ToString("N")[..8];
        var now = DateTimeOffset.UtcNow;
        await table.AddEntityAsync(new IdempotencyEntity { PartitionKey = tenant, RowKey = "expired", ExpiresAt = now.AddMinutes(-1), State = IdempotencyEntity.Done });
        await table.AddEntityAsync(new IdempotencyEntity { PartitionKey = tenant, RowKey = "live", ExpiresAt = now.AddHours(23), State = IdempotencyEntity.Done });

        Assert.True(await host.Services.GetRequiredService<IdempotencyStore>().PurgeExpiredAsync(CancellationToken.None) >= 1);

        Assert.False((await table.GetEntityIfExistsAsync<IdempotencyEntity>(tenant, "expired")).HasValue);
        Assert.True((await table.GetEntityIfExistsAsync<IdempotencyEntity>(tenant, "live")).HasValue);
    }
}
