using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace AgentRuns.Benchmarks.Infra;

/// <summary>The runs API as the guide's client calls it: every POST with a fresh <c>Idempotency-Key</c>.</summary>
public static class Api
{
    /// <summary>The guide's create request: a bare goal drafts, asks for approval, acts, finishes.</summary>
    public const string GuideRun = """{"input":{"goal":"Draft and send the weekly team update email."}}""";

    public static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(120);

    /// <summary>The guide's goal with a plan of <paramref name="approvals"/> approval steps, then finish.</summary>
    public static string ApprovalsRun(int approvals) => JsonSerializer.Serialize(new
    {
        input = new
        {
            goal = "Draft and send the weekly team update email.",
            plan = Enumerable.Range(1, approvals)
                .Select(i => (object)new { type = "approval", prompt = $"Approve step {i}?" })
                .Append(new { type = "finish" }),
        },
    });

    public static async Task<(string RunId, double Ms)> CreateRunAsync(this HttpClient http, string body = GuideRun)
    {
        var started = Clock.Now;
        var (status, text) = await PostAsync(http, "/v1/runs", body);
        var ms = Clock.MsSince(started);
        if (status != HttpStatusCode.Created)
        {
            throw new InvalidOperationException($"create: {(int)status} {text}");
        }

        using var json = JsonDocument.Parse(text);
        return (json.RootElement.GetProperty("id").GetString()!, ms);
    }

    /// <summary>
    /// Creates a run as a careful client does: on 409 <c>idempotency_key_in_use</c> or 503 <c>storage_unavailable</c> it waits
    /// <c>Retry-After</c> (at most 65 s) and sends the same request with the same key again, up to <paramref name="attempts"/>
    /// times. Returns the run and the answers it retried after (none when the first answer was 201).
    /// </summary>
    public static async Task<(string RunId, List<string> Retried)> CreateRunRetryingAsync(this HttpClient http, string body, int attempts = 5)
    {
        var key = Guid.NewGuid().ToString("D");
        var retried = new List<string>();
        while (true)
        {
            var (status, text, retryAfter) = await PostAsync(http, "/v1/runs", body, key);
            if (status == HttpStatusCode.Created)
            {
                using var json = JsonDocument.Parse(text);
                return (json.RootElement.GetProperty("id").GetString()!, retried);
            }

            var reason = ReasonCode(text);
            if (retried.Count + 1 >= attempts || !(status == HttpStatusCode.Conflict && reason == "idempotency_key_in_use"
                || status == HttpStatusCode.ServiceUnavailable && reason == "storage_unavailable"))
            {
                throw new InvalidOperationException($"create: {(int)status} {text} (retried after: {string.Join(", ", retried)})");
            }

            retried.Add($"{(int)status} {reason}");
            await Task.Delay(TimeSpan.FromSeconds(Math.Clamp(retryAfter ?? 1, 1, 65)));
        }
    }

    public static async Task SignalAsync(this HttpClient http, string runId, string action = "approve")
    {
        var (status, text) = await PostAsync(http, $"/v1/runs/{runId}/signal", $$"""{"action":"{{action}}"}""");
        if (status != HttpStatusCode.Accepted)
        {
            throw new InvalidOperationException($"signal {runId}: {(int)status} {text}");
        }
    }

    private static async Task<(HttpStatusCode, string)> PostAsync(HttpClient http, string path, string body)
    {
        var (status, text, _) = await PostAsync(http, path, body, Guid.NewGuid().ToString("D"));
        return (status, text);
    }

    private static async Task<(HttpStatusCode Status, string Text, double? RetryAfterSeconds)> PostAsync(HttpClient http, string path, string body, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative))
        {
            Content = new StringContent(body, Encoding.UTF8, new MediaTypeHeaderValue("application/json")),
        };
        request.Headers.Add("Idempotency-Key", key);
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers.RetryAfter?.Delta?.TotalSeconds);
    }

    private static string? ReasonCode(string problem)
    {
        try
        {
            using var json = JsonDocument.Parse(problem);
            return json.RootElement.TryGetProperty("reason_code", out var code) ? code.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>A run waiting in <c>awaiting_input</c>, with the stream its client watches.</summary>
public sealed record WaitingRun(string RunId, RunStream Stream, string RequestId, double CreateMs, StreamEvent Awaiting);

/// <summary>Client flows over the API.</summary>
public static class Flows
{
    /// <summary>Creates a run and follows its stream until it asks for input.</summary>
    public static async Task<WaitingRun> CreateWaitingAsync(HostProcess host, string body = Api.GuideRun, TimeSpan? streamLifetime = null)
    {
        var (runId, createMs) = await host.Http.CreateRunAsync(body);
        var stream = await RunStream.OpenAsync(host.Http, runId, streamLifetime ?? TimeSpan.FromMinutes(5));
        try
        {
            var awaiting = await stream.WaitForTypeAsync("run.awaiting_input", Api.EventTimeout);
            return new WaitingRun(runId, stream, awaiting.RequestId!, createMs, awaiting);
        }
        catch
        {
            await stream.DisposeAsync();
            throw;
        }
    }

    /// <summary><paramref name="count"/> waiting runs, created <paramref name="concurrency"/> at a time.</summary>
    public static async Task<List<WaitingRun>> CreateWaitingManyAsync(HostProcess host, int count, int concurrency, string body = Api.GuideRun)
    {
        using var gate = new SemaphoreSlim(concurrency);
        var tasks = Enumerable.Range(0, count).Select(async _ =>
        {
            await gate.WaitAsync();
            try
            {
                return await CreateWaitingAsync(host, body);
            }
            finally
            {
                gate.Release();
            }
        });
        return [.. await Task.WhenAll(tasks)];
    }

    /// <summary>The guide's approve flow: create, follow the stream, approve on <c>run.awaiting_input</c>, until the run ends.</summary>
    public static async Task<GuideFlowTimes> GuideFlowAsync(HostProcess host)
    {
        var started = Clock.Now;
        var run = await CreateWaitingAsync(host);
        await using (run.Stream)
        {
            var signalled = Clock.Now;
            await host.Http.SignalAsync(run.RunId);
            var received = await run.Stream.WaitForTypeAsync("run.signal_received", Api.EventTimeout);
            var end = await run.Stream.WaitForEndAsync(Api.EventTimeout);
            if (end.Type != "run.worker.succeeded")
            {
                throw new InvalidOperationException($"Run {run.RunId} ended with {end.Type}.");
            }

            return new GuideFlowTimes(run.CreateMs, Clock.Ms(signalled, received.ReceivedAt), Clock.Ms(started, end.ReceivedAt));
        }
    }

    /// <summary>Waits until every stream has seen its run end.</summary>
    public static async Task EndAllAsync(IEnumerable<WaitingRun> runs)
    {
        await Task.WhenAll(runs.Select(async r =>
        {
            await using (r.Stream)
            {
                await r.Stream.WaitForEndAsync(Api.EventTimeout);
            }
        }));
    }
}

public sealed record GuideFlowTimes(double CreateMs, double SignalToResumeMs, double TotalMs);
