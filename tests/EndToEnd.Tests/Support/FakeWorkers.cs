using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using AgentRuns.Testing.Contract;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AgentRuns.EndToEnd.Tests.Support;

/// <summary>A step as a worker received it: its Standard Webhooks headers and whether they verify, the body, and whether the body is the documented step request.</summary>
public sealed record ReceivedStep(string Path, string Id, string Timestamp, string Signature, string Body, bool SignatureValid, string? ContractViolation, DateTimeOffset At)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;

    public int StepIndex => Json.GetProperty("step_index").GetInt32();
}

/// <summary>What a fake worker answers to the <c>n</c>-th call at its path (0 for the first): a status and a body.</summary>
public delegate Task<(int Status, string Body)> WorkerBehaviour(ReceivedStep step, int n, CancellationToken requestAborted);

/// <summary>
/// Misbehaving HTTP workers inside the test process (Kestrel on 127.0.0.1, a free port): each path answers as its test says (slow,
/// garbage, 500 for ever…), every call is recorded, its signature verified with the specification's algorithm and its body
/// checked against the OpenAPI document's <c>WorkerStepRequest</c>.
/// </summary>
public sealed class FakeWorkers : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedStep> _received = new();
    private readonly ConcurrentDictionary<string, string> _secrets = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, WorkerBehaviour> _behaviours = new(StringComparer.Ordinal);

    private FakeWorkers(WebApplication app)
    {
        _app = app;
        _app.MapPost("/{**path}", HandleAsync);
    }

    public string BaseUrl { get; private set; } = "";

    public static async Task<FakeWorkers> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var workers = new FakeWorkers(builder.Build());
        await workers._app.StartAsync();
        workers.BaseUrl = workers._app.Urls.Single();
        return workers;
    }

    public string Url(string path) => $"{BaseUrl}/{path}";

    public void Behave(string path, string secret, WorkerBehaviour behaviour)
    {
        _secrets[path] = secret;
        _behaviours[path] = behaviour;
    }

    public IReadOnlyList<ReceivedStep> ReceivedAt(string path) => [.. _received.Where(r => r.Path == path)];

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context, string path)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync();
        var headers = context.Request.Headers;
        var (id, timestamp, signature) = (headers["webhook-id"].ToString(), headers["webhook-timestamp"].ToString(), headers["webhook-signature"].ToString());
        var valid = _secrets.TryGetValue(path, out var secret) && WebhookReceiver.IsValid(secret, id, timestamp, signature, body);
        string? violation = null;
        try
        {
            ApiContract.Default.Evaluate("/components/schemas/WorkerStepRequest", JsonDocument.Parse(body).RootElement, "the step request");
        }
        catch (Exception ex) when (ex is ApiContractViolationException or JsonException)
        {
            violation = ex.Message;
        }

        var step = new ReceivedStep(path, id, timestamp, signature, body, valid, violation, DateTimeOffset.UtcNow);
        var n = _received.Count(r => r.Path == path);
        _received.Enqueue(step);
        if (!_behaviours.TryGetValue(path, out var behave))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        try
        {
            var (status, answer) = await behave(step, n, context.RequestAborted);
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(answer, context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The service gave up on this attempt (its timeout): nobody reads an answer.
        }
    }
}
