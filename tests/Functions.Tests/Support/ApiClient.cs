using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using AgentRuns.Functions.Http;
using AgentRuns.Testing.Contract;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace AgentRuns.Functions.Tests.Support;

/// <summary>A response as the client sees it.</summary>
public sealed record ApiResponse(int Status, IHeaderDictionary Headers, string Body)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;

    public string? ReasonCode => Json.TryGetProperty("reason_code", out var code) ? code.GetString() : null;

    public string ContentType => Headers.ContentType.ToString();

    public override string ToString() => $"{Status} {Body}";
}

/// <summary>
/// Calls the HTTP functions the way the Functions host does: a real <see cref="HttpContext"/> with the request, the
/// function's <see cref="IResult"/> executed into the response. Routes as in the functions' attributes.
/// </summary>
public sealed partial class ApiClient(RunsTestHost host, string? key)
{
    /// <summary>The API key sent as <c>Authorization: Bearer</c> unless a request sets its own header.</summary>
    public string? Key => key;

    public string TenantId { get; init; } = "";

    public Task<ApiResponse> PostAsync(string path, string? body, IReadOnlyDictionary<string, string>? headers = null) =>
        SendAsync("POST", path, body, headers);

    public Task<ApiResponse> GetAsync(string pathAndQuery, IReadOnlyDictionary<string, string>? headers = null) =>
        SendAsync("GET", pathAndQuery, null, headers);

    public Task<ApiResponse> DeleteAsync(string path) => SendAsync("DELETE", path, null);

    public async Task<ApiResponse> SendAsync(string method, string pathAndQuery, string? body, IReadOnlyDictionary<string, string>? headers = null)
    {
        var context = new DefaultHttpContext { RequestServices = host.Services };
        var queryStart = pathAndQuery.IndexOf('?', StringComparison.Ordinal);
        var path = queryStart < 0 ? pathAndQuery : pathAndQuery[..queryStart];
        context.Request.Method = method;
        context.Request.Path = path;
        context.Request.QueryString = queryStart < 0 ? QueryString.Empty : new QueryString(pathAndQuery[queryStart..]);
        if (body is not null)
        {
            var bytes = Encoding.UTF8.GetBytes(body);
            context.Request.Body = new MemoryStream(bytes);
            context.Request.ContentLength = bytes.Length;
            context.Request.ContentType = "application/json";
        }

        if (key is not null)
        {
            context.Request.Headers.Authorization = $"Bearer {key}";
        }

        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            context.Request.Headers[name] = value;
        }

        var response = new MemoryStream();
        context.Response.Body = response;
        var result = await Route(method, path, context.Request);
        await result.ExecuteAsync(context);
        var answer = new ApiResponse(context.Response.StatusCode, context.Response.Headers, Encoding.UTF8.GetString(response.ToArray()));
        CheckAgainstTheDocument(method, path, answer);
        return answer;
    }

    /// <summary>
    /// Every response the functions give these tests must be one the OpenAPI document describes (status, content type,
    /// headers, body; a stream message by message): a mismatch fails the test with <see cref="ApiContractViolationException"/>.
    /// </summary>
    private static void CheckAgainstTheDocument(string method, string path, ApiResponse answer)
    {
        if (answer.Status == 499)
        {
            return; // the test's client went away on purpose: nobody receives this
        }

        var mediaType = answer.ContentType.Split(';', 2)[0].Trim();
        var contract = ApiContract.Default;
        var schema = contract.Check(
            method, path, answer.Status, mediaType.Length == 0 ? null : mediaType,
            name => answer.Headers.TryGetValue(name, out var value) ? value.ToString() : null, answer.Body);
        if (mediaType == "text/event-stream" && schema is not null)
        {
            foreach (var frame in SseFrames.Parse(answer.Body))
            {
                contract.CheckStreamMessage($"{method} {path}", schema, frame.Id, frame.EventType, frame.RawData);
            }
        }
    }

    private Task<IResult> Route(string method, string path, HttpRequest request)
    {
        var f = host.Functions;
        var durable = host.Client;
        var health = ActivatorUtilities.CreateInstance<HealthFunctions>(host.Services);
        if (path == "/health")
        {
            return Task.FromResult(health.Health(request));
        }

        if (path == "/health/ready")
        {
            return health.Ready(request);
        }

        if (path == "/v1/runs")
        {
            return method == "POST" ? f.CreateRun(request, durable) : f.ListRuns(request);
        }

        if (RouteWebhooks(method, path, request) is { } webhooks)
        {
            return webhooks;
        }

        if (RouteWorkers(method, path, request) is { } workers)
        {
            return workers;
        }

        // Requests for human input: the inbox, and moving a deadline.
        var requests = ActivatorUtilities.CreateInstance<RequestFunctions>(host.Services);
        if (path == "/v1/requests" && method == "GET")
        {
            return requests.ListRequests(request);
        }

        var extend = ExtendRoute().Match(path);
        if (extend.Success && method == "POST")
        {
            return requests.ExtendRequest(request, Uri.UnescapeDataString(extend.Groups["id"].Value), Uri.UnescapeDataString(extend.Groups["rid"].Value), durable);
        }

        var match = RunRoute().Match(path);
        if (!match.Success)
        {
            throw new InvalidOperationException($"No function serves {method} {path}.");
        }

        var id = Uri.UnescapeDataString(match.Groups["id"].Value);
        return (method, match.Groups["rest"].Value) switch
        {
            ("GET", "") => f.GetRun(request, id),
            ("GET", "/events") => f.ListRunEvents(request, id),
            ("GET", "/events/stream") => f.StreamRunEvents(request, id),
            ("POST", "/signal") => f.SignalRun(request, id, durable),
            ("POST", "/cancel") => f.CancelRun(request, id, durable),
            _ => throw new InvalidOperationException($"No function serves {method} {path}."),
        };
    }

    // Webhooks (WebhookFunctions).
    private Task<IResult>? RouteWebhooks(string method, string path, HttpRequest request)
    {
        var w = host.WebhookFunctions;
        if (path == "/v1/webhooks")
        {
            return method == "POST" ? w.CreateWebhook(request) : w.ListWebhooks(request);
        }

        var match = WebhookRoute().Match(path);
        if (!match.Success)
        {
            return null;
        }

        var id = Uri.UnescapeDataString(match.Groups["id"].Value);
        return (method, match.Groups["rest"].Value) switch
        {
            ("GET", "") => w.GetWebhook(request, id),
            ("DELETE", "") => w.DeleteWebhook(request, id),
            ("GET", "/deliveries") => w.ListWebhookDeliveries(request, id),
            _ => throw new InvalidOperationException($"No function serves {method} {path}."),
        };
    }

    // HTTP workers (WorkerFunctions).
    private Task<IResult>? RouteWorkers(string method, string path, HttpRequest request)
    {
        var w = host.WorkerFunctions;
        if (path == "/v1/workers")
        {
            return method == "POST" ? w.CreateWorker(request) : w.ListWorkers(request);
        }

        var match = WorkerRoute().Match(path);
        if (!match.Success)
        {
            return null;
        }

        var name = Uri.UnescapeDataString(match.Groups["name"].Value);
        return method switch
        {
            "GET" => w.GetWorker(request, name),
            "DELETE" => w.DeleteWorker(request, name),
            _ => throw new InvalidOperationException($"No function serves {method} {path}."),
        };
    }

    [GeneratedRegex("^/v1/workers/(?<name>[^/]+)$")]
    private static partial Regex WorkerRoute();

    [GeneratedRegex("^/v1/webhooks/(?<id>[^/]+)(?<rest>/deliveries)?$")]
    private static partial Regex WebhookRoute();

    [GeneratedRegex("^/v1/runs/(?<id>[^/]+)(?<rest>/events/stream|/events|/signal|/cancel)?$")]
    private static partial Regex RunRoute();

    [GeneratedRegex("^/v1/runs/(?<id>[^/]+)/requests/(?<rid>[^/]+)/extend$")]
    private static partial Regex ExtendRoute();
}
