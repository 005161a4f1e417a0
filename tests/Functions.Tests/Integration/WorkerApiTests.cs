using System.Text.Json;
using AgentRuns.Functions.Tests.Support;
using AgentRuns.Functions.Workers;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>
/// The workers API in the Durable test host with real tables: a tenant registers workers by name, the secret is shown once, bad
/// bodies, names and URLs change nothing, and another tenant can neither see, delete nor run a tenant's worker.
/// </summary>
public sealed class WorkerApiTests
{
    private const string PublicUrl = "https://93.184.215.14/worker";

    [Fact]
    public async Task CreateListGetDelete_ShowTheSecretOnlyInTheCreate()
    {
        var api = await (await RunsTestHost.GetAsync()).NewTenantAsync();

        var created = await api.PostAsync("/v1/workers", $$"""{"name":"weekly-email_2","url":"{{PublicUrl}}"}""");

        Assert.Equal(201, created.Status);
        Assert.Equal("/v1/workers/weekly-email_2", created.Headers.Location.ToString());
        Assert.Equal("worker", created.Json.GetProperty("object").GetString());
        Assert.Equal("weekly-email_2", created.Json.GetProperty("name").GetString());
        Assert.Equal("worker:weekly-email_2", created.Json.GetProperty("agent").GetString());
        Assert.Equal(PublicUrl, created.Json.GetProperty("url").GetString());
        var secret = created.Json.GetProperty("secret").GetString()!;
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        Assert.Equal(32, Convert.FromBase64String(secret["whsec_".Length..]).Length);

        var got = await api.GetAsync("/v1/workers/weekly-email_2");
        Assert.Equal(200, got.Status);
        Assert.False(got.Json.TryGetProperty("secret", out _));
        Assert.DoesNotContain(secret, got.Body, StringComparison.Ordinal);
        Assert.Equal(created.Json.GetProperty("created_at").GetString(), got.Json.GetProperty("created_at").GetString());

        var list = await api.GetAsync("/v1/workers");
        Assert.Equal(200, list.Status);
        Assert.Equal(["weekly-email_2"], list.Json.GetProperty("data").EnumerateArray().Select(w => w.GetProperty("name").GetString()));
        Assert.DoesNotContain(secret, list.Body, StringComparison.Ordinal);

        var deleted = await api.DeleteAsync("/v1/workers/weekly-email_2");
        Assert.Equal(204, deleted.Status);
        Assert.Equal("", deleted.Body);
        var gone = await api.GetAsync("/v1/workers/weekly-email_2");
        Assert.Equal(404, gone.Status);
        Assert.Equal("worker_not_found", gone.ReasonCode);
        Assert.Equal(404, (await api.DeleteAsync("/v1/workers/weekly-email_2")).Status);
        Assert.Empty((await api.GetAsync("/v1/workers")).Json.GetProperty("data").EnumerateArray());
    }

    [Fact]
    public async Task TheSameNameTwice_Is409_AndKeepsTheFirstWorkerAndSecret_UntilItIsDeleted()
    {
        var api = await (await RunsTestHost.GetAsync()).NewTenantAsync();
        var first = await api.PostAsync("/v1/workers", $$"""{"name":"email","url":"{{PublicUrl}}"}""");

        var second = await api.PostAsync("/v1/workers", """{"name":"email","url":"https://93.184.215.15/other"}""");

        Assert.Equal(409, second.Status);
        Assert.Equal("worker_exists", second.ReasonCode);
        Assert.Equal(PublicUrl, (await api.GetAsync("/v1/workers/email")).Json.GetProperty("url").GetString());

        Assert.Equal(204, (await api.DeleteAsync("/v1/workers/email")).Status);
        var again = await api.PostAsync("/v1/workers", """{"name":"email","url":"https://93.184.215.15/other"}""");
        Assert.Equal(201, again.Status);
        Assert.NotEqual(first.Json.GetProperty("secret").GetString(), again.Json.GetProperty("secret").GetString());
    }

    [Fact]
    public async Task ARetriedCreate_WithTheSameIdempotencyKey_GetsTheSameWorkerAndSecret()
    {
        var api = await (await RunsTestHost.GetAsync()).NewTenantAsync();
        var headers = new Dictionary<string, string> { ["Idempotency-Key"] = Guid.NewGuid().ToString("N") };
        var body = $$"""{"name":"email","url":"{{PublicUrl}}"}""";

        var first = await api.PostAsync("/v1/workers", body, headers);
        var second = await api.PostAsync("/v1/workers", body, headers);

        Assert.Equal(201, first.Status);
        Assert.Equal(201, second.Status);
        Assert.Equal("true", second.Headers["Idempotent-Replayed"].ToString());
        Assert.Equal(first.Body, second.Body);
        Assert.Single((await api.GetAsync("/v1/workers")).Json.GetProperty("data").EnumerateArray());
    }

    [Fact]
    public async Task ACreateWhoseResponseWasLost_IsAnsweredAgainByItsRetry_NotRefusedAsTaken()
    {
        // The first attempt registered the worker and died before its response was stored: the retry takes the key over and
        // must find that worker (with its secret) instead of answering 409 worker_exists.
        var host = await RunsTestHost.GetAsync();
        var api = await host.NewTenantAsync();
        var caller = new Model.Caller(api.TenantId, new Model.Actor("key_0000000000000000", "test"));
        var seed = new Runs.IdempotencySeed($"{api.TenantId}/lost-create", DateTimeOffset.UtcNow);
        var service = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<WorkerService>(host.Services);
        var request = new CreateWorkerRequest("email", PublicUrl);

        var first = await service.CreateAsync(caller, request, seed, CancellationToken.None);
        var retried = await service.CreateAsync(caller, request, seed, CancellationToken.None);
        var someoneElse = await Assert.ThrowsAsync<Model.ApiException>(() =>
            service.CreateAsync(caller, request, seed with { Key = $"{api.TenantId}/another-create" }, CancellationToken.None));

        Assert.Equal((first.Name, first.Url, first.Secret), (retried.Name, retried.Url, retried.Secret));
        Assert.Equal(Model.ApiJson.FormatTimestamp(first.CreatedAt), Model.ApiJson.FormatTimestamp(retried.CreatedAt));
        Assert.Equal("worker_exists", someoneElse.ReasonCode);
    }

    public static TheoryData<string, string> BadBodies => new()
    {
        { """{}""", "invalid_request" },
        { """{"url":"https://93.184.215.14/w"}""", "invalid_request" },
        { """{"name":null,"url":"https://93.184.215.14/w"}""", "invalid_request" },
        { """{"name":42,"url":"https://93.184.215.14/w"}""", "invalid_request" },
        { """{"name":["email"],"url":"https://93.184.215.14/w"}""", "invalid_request" },
        { """{"name":"","url":"https://93.184.215.14/w"}""", "invalid_request" },
        { """{"name":"Email","url":"https://93.184.215.14/w"}""", "invalid_request" },
        { """{"name":"-email","url":"https://93.184.215.14/w"}""", "invalid_request" },
        { """{"name":"e mail","url":"https://93.184.215.14/w"}""", "invalid_request" },
        { """{"name":"a/b","url":"https://93.184.215.14/w"}""", "invalid_request" },
        { """{"name":"../x","url":"https://93.184.215.14/w"}""", "invalid_request" },
        { """{"name":"worker:email","url":"https://93.184.215.14/w"}""", "invalid_request" },
        { """{"name":"x' or '1' eq '1","url":"https://93.184.215.14/w"}""", "invalid_request" },
        { """{"name":"émail","url":"https://93.184.215.14/w"}""", "invalid_request" },
        { """{"name":"e\u0000","url":"https://93.184.215.14/w"}""", "invalid_request" },
        { """{"name":"email\n","url":"https://93.184.215.14/w"}""", "invalid_request" }, // a regex's $ matches before a final newline
        { """{"name":"email","url":"https://93.184.215.14/w\n"}""", "invalid_worker_url" },
        { """{"name":"email","url":"https://93.184.215.14/w\u0000"}""", "invalid_worker_url" },
        { """{"name":"email","url":"https://93.184.215.14/a b"}""", "invalid_worker_url" },
        { "{\"name\":\"" + new string('a', 64) + "\",\"url\":\"https://93.184.215.14/w\"}", "invalid_request" },
        { """{"name":"email"}""", "invalid_request" },
        { """{"name":"email","url":null}""", "invalid_request" },
        { """{"name":"email","url":7}""", "invalid_request" },
        { """{"name":"email","url":"https://93.184.215.14/w","secret":"whsec_mine"}""", "invalid_request" },
        { """{"name":"email","url":"https://93.184.215.14/w","name":"other"}""", "invalid_request" },
        { """[{"name":"email","url":"https://93.184.215.14/w"}]""", "invalid_request" },
        { """{"name":"email","url":"https://93.184.215.14/w""", "invalid_request" },
        { """{"name":"email","url":"http://93.184.215.14/w"}""", "invalid_worker_url" },
        { """{"name":"email","url":"https://127.0.0.1/w"}""", "invalid_worker_url" },
        { """{"name":"email","url":"https://localhost/w"}""", "invalid_worker_url" },
        { """{"name":"email","url":"https://169.254.169.254/latest/meta-data/"}""", "invalid_worker_url" },
        { """{"name":"email","url":"https://10.0.0.1/w"}""", "invalid_worker_url" },
        { """{"name":"email","url":"https://[::1]/w"}""", "invalid_worker_url" },
        { """{"name":"email","url":"https://[::ffff:192.168.0.1]/w"}""", "invalid_worker_url" },
        { """{"name":"email","url":"https://2130706433/w"}""", "invalid_worker_url" },
        { """{"name":"email","url":"https://user:pw@93.184.215.14/w"}""", "invalid_worker_url" },
        { """{"name":"email","url":"https://93.184.215.14/w#frag"}""", "invalid_worker_url" },
        { """{"name":"email","url":"https://no-such-host.invalid/w"}""", "invalid_worker_url" },
        { """{"name":"email","url":"file:///etc/passwd"}""", "invalid_worker_url" },
        { """{"name":"email","url":"not a url"}""", "invalid_worker_url" },
        { "{\"name\":\"email\",\"url\":\"https://93.184.215.14/" + new string('a', 2100) + "\"}", "invalid_worker_url" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task ABadCreate_Gets400WithAReasonCode_AndRegistersNothing(string body, string reasonCode)
    {
        var api = await (await RunsTestHost.GetAsync()).NewTenantAsync();

        var response = await api.PostAsync("/v1/workers", body);

        Assert.Equal(400, response.Status);
        Assert.Equal(reasonCode, response.ReasonCode);
        Assert.Equal("application/problem+json", response.ContentType);
        Assert.Empty((await api.GetAsync("/v1/workers")).Json.GetProperty("data").EnumerateArray());
    }

    [Theory]
    [InlineData("GET", "/v1/workers/Email", 400, "invalid_request")]
    [InlineData("DELETE", "/v1/workers/a%20b", 400, "invalid_request")]
    [InlineData("GET", "/v1/workers/x'%20or%20'1'%20eq%20'1", 400, "invalid_request")]
    [InlineData("GET", "/v1/workers/..%2F..%2Fadmin", 400, "invalid_request")]
    [InlineData("GET", "/v1/workers/email%0A", 400, "invalid_request")]
    [InlineData("DELETE", "/v1/workers/email%0A", 400, "invalid_request")]
    [InlineData("GET", "/v1/workers/nobody", 404, "worker_not_found")]
    [InlineData("DELETE", "/v1/workers/nobody", 404, "worker_not_found")]
    public async Task BadOrUnknownNamesInThePath_AreRefused(string method, string path, int status, string reasonCode)
    {
        var api = await (await RunsTestHost.GetAsync()).NewTenantAsync();

        var response = await api.SendAsync(method, path, null);

        Assert.Equal(status, response.Status);
        Assert.Equal(reasonCode, response.ReasonCode);
    }

    [Fact]
    public async Task ATenant_HasAtMostMaxPerTenantWorkers_EvenWhenCreatesRace_AndADeleteFreesASlot()
    {
        var api = await (await RunsTestHost.GetAsync()).NewTenantAsync();
        var max = new WorkerOptions().MaxPerTenant;

        // All at once, two of them under one name: one of those two is told the name is taken, and no create slips past the limit.
        var names = Enumerable.Range(0, max + 10).Select(i => $"w{i}").Append("w0").ToList();
        var responses = await Task.WhenAll(names.Select(name => api.PostAsync("/v1/workers", $$"""{"name":"{{name}}","url":"{{PublicUrl}}"}""")));

        Assert.Equal(max, responses.Count(r => r.Status == 201));
        Assert.All(responses.Where(r => r.Status != 201), r => Assert.Contains((r.Status, r.ReasonCode), new (int, string?)[] { (400, "invalid_request"), (409, "worker_exists") }));
        Assert.Equal(max, (await api.GetAsync("/v1/workers")).Json.GetProperty("data").GetArrayLength());

        var registered = names.Where((_, i) => responses[i].Status == 201).First();
        Assert.Equal(204, (await api.DeleteAsync($"/v1/workers/{registered}")).Status);
        Assert.Equal(201, (await api.PostAsync("/v1/workers", $$"""{"name":"one-more","url":"{{PublicUrl}}"}""")).Status);
        var oneTooMany = await api.PostAsync("/v1/workers", $$"""{"name":"one-too-many","url":"{{PublicUrl}}"}""");
        Assert.Equal((400, "invalid_request"), (oneTooMany.Status, oneTooMany.ReasonCode));
        Assert.Equal(max, (await api.GetAsync("/v1/workers")).Json.GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task CreatesAndDeletesOfOneNameAtOnce_AnswerOnlyWhatTheyDid_NeverA500()
    {
        var api = await (await RunsTestHost.GetAsync()).NewTenantAsync();
        for (var round = 0; round < 6; round++)
        {
            var creates = Enumerable.Range(0, 5).Select(_ => api.PostAsync("/v1/workers", $$"""{"name":"race","url":"{{PublicUrl}}"}"""));
            var deletes = Enumerable.Range(0, 5).Select(_ => api.DeleteAsync("/v1/workers/race"));
            var answers = await Task.WhenAll(creates.Concat(deletes));

            Assert.All(answers.Take(5), r => Assert.True(r.Status is 201 or 409, r.ToString()));
            Assert.All(answers.Skip(5), r => Assert.True(r.Status is 204 or 404, r.ToString()));
            var listed = (await api.GetAsync("/v1/workers")).Json.GetProperty("data").GetArrayLength();
            Assert.InRange(listed, 0, 1);
            await api.DeleteAsync("/v1/workers/race");
        }

        Assert.Empty((await api.GetAsync("/v1/workers")).Json.GetProperty("data").EnumerateArray());
        Assert.Equal(201, (await api.PostAsync("/v1/workers", $$"""{"name":"after","url":"{{PublicUrl}}"}""")).Status); // the count held
    }

    [Fact]
    public async Task AnotherTenant_CanNeitherSeeDeleteNorRunTheWorker_AndKeepsItsOwnNames()
    {
        var host = await RunsTestHost.GetAsync();
        var owner = await host.NewTenantAsync();
        var other = await host.NewTenantAsync();
        var ownerSecret = (await owner.PostAsync("/v1/workers", $$"""{"name":"email","url":"{{PublicUrl}}"}""")).Json.GetProperty("secret").GetString();

        Assert.Empty((await other.GetAsync("/v1/workers")).Json.GetProperty("data").EnumerateArray());
        foreach (var method in new[] { "GET", "DELETE" })
        {
            var theirs = await other.SendAsync(method, "/v1/workers/email", null);
            var nobodys = await other.SendAsync(method, "/v1/workers/nobody", null);
            Assert.Equal(404, theirs.Status);
            Assert.Equal("worker_not_found", theirs.ReasonCode);
            Assert.Equal(nobodys.Body.Replace("nobody", "email", StringComparison.Ordinal), theirs.Body);
        }

        var run = await other.PostAsync("/v1/runs", """{"input":{"goal":"g"},"agent":"worker:email"}""");
        var nobodysRun = await other.PostAsync("/v1/runs", """{"input":{"goal":"g"},"agent":"worker:nobody"}""");
        Assert.Equal(400, run.Status);
        Assert.Equal("agent_not_available", run.ReasonCode);
        Assert.Equal(nobodysRun.Json.GetProperty("detail").GetString()!.Replace("nobody", "email", StringComparison.Ordinal), run.Json.GetProperty("detail").GetString());
        Assert.Empty((await other.GetAsync("/v1/runs")).Json.GetProperty("data").EnumerateArray());

        // The same name is free in the other tenant: its own worker, its own secret; the owner's is untouched.
        var theirsNow = await other.PostAsync("/v1/workers", """{"name":"email","url":"https://93.184.215.15/theirs"}""");
        Assert.Equal(201, theirsNow.Status);
        Assert.NotEqual(ownerSecret, theirsNow.Json.GetProperty("secret").GetString());
        Assert.Equal(PublicUrl, (await owner.GetAsync("/v1/workers/email")).Json.GetProperty("url").GetString());
    }

    [Theory]
    [InlineData("worker:")]
    [InlineData("worker:Email")]
    [InlineData("worker:nobody")]
    [InlineData("worker:email/../x")]
    [InlineData("Worker:email")]
    [InlineData("workers:email")]
    public async Task ARunNamingNoWorkerOfTheTenant_Is400AgentNotAvailable_AndNothingIsCreated(string agent)
    {
        var api = await (await RunsTestHost.GetAsync()).NewTenantAsync();
        await api.PostAsync("/v1/workers", $$"""{"name":"email","url":"{{PublicUrl}}"}""");

        var response = await api.PostAsync("/v1/runs", JsonSerializer.Serialize(new { input = new { goal = "g" }, agent }));

        Assert.Equal(400, response.Status);
        Assert.Equal("agent_not_available", response.ReasonCode);
        Assert.Empty((await api.GetAsync("/v1/runs")).Json.GetProperty("data").EnumerateArray());
    }
}
