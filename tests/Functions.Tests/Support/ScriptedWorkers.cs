using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace AgentRuns.Functions.Tests.Support;

/// <summary>One call the service made to a worker, as the worker got it.</summary>
public sealed record WorkerCall(string Path, string Id, string Timestamp, string Signature, string Body, DateTimeOffset At)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;

    public int StepIndex => Json.GetProperty("step_index").GetInt32();

    /// <summary>The Standard Webhooks check, written out: HMAC-SHA256 of <c>{id}.{timestamp}.{body}</c> with the secret's bytes.</summary>
    public bool SignedWith(string secret)
    {
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        var expected = "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{Id}.{Timestamp}.{Body}")));
        var fresh = long.TryParse(Timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            && Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - seconds) <= 300;
        return fresh && Signature.Split(' ').Contains(expected, StringComparer.Ordinal);
    }
}

/// <summary>
/// The HTTP workers of the integration tests: the primary handler of the service's worker client (so its resilience, signing
/// and size limit run for real) that answers each URL path as its test says and records every call. Paths nobody scripted
/// answer 404.
/// </summary>
public sealed class ScriptedWorkers : HttpMessageHandler
{
    private readonly ConcurrentDictionary<string, Func<WorkerCall, int, Task<HttpResponseMessage>>> _answers = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<WorkerCall> _calls = new();

    /// <summary>A worker URL that passes the URL policy (a public address literal, so no DNS) and is this test's alone.</summary>
    public static string NewUrl(out string path)
    {
        path = "w" + Guid.NewGuid().ToString("N")[..12];
        return $"https://93.184.215.14/{path}";
    }

    /// <summary>Answers calls to <paramref name="path"/>; the function gets the call and how many came before it to this path.</summary>
    public void Answer(string path, Func<WorkerCall, int, Task<HttpResponseMessage>> answer) => _answers[path] = answer;

    /// <summary>Answers every call to <paramref name="path"/> with 200 and the JSON the function gives for it.</summary>
    public void AnswerJson(string path, Func<WorkerCall, int, string> json) =>
        Answer(path, (call, n) => Task.FromResult(Json(json(call, n))));

    /// <summary>Answers with the decisions in order (the last one again when they run out).</summary>
    public void AnswerInOrder(string path, params string[] decisions) =>
        AnswerJson(path, (_, n) => decisions[Math.Min(n, decisions.Length - 1)]);

    public IReadOnlyList<WorkerCall> CallsTo(string path) => [.. _calls.Where(c => c.Path == path)];

    public static HttpResponseMessage Json(string json, HttpStatusCode status = HttpStatusCode.OK) =>
        new(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var path = request.RequestUri!.AbsolutePath.Trim('/');
        var call = new WorkerCall(
            path, Header(request, "webhook-id"), Header(request, "webhook-timestamp"), Header(request, "webhook-signature"),
            await request.Content!.ReadAsStringAsync(cancellationToken), DateTimeOffset.UtcNow);
        var before = _calls.Count(c => c.Path == path);
        _calls.Enqueue(call);
        return _answers.TryGetValue(path, out var answer)
            ? await answer(call, before)
            : new HttpResponseMessage(HttpStatusCode.NotFound) { Content = new StringContent("no such worker") };
    }

    private static string Header(HttpRequestMessage request, string name) =>
        request.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : "";
}
