using AgentRuns.Functions.Idempotency;
using AgentRuns.Functions.Model;
using Microsoft.AspNetCore.Http;

namespace AgentRuns.Functions.Http;

/// <summary>Responses in the API's JSON conventions.</summary>
public static class ApiResults
{
    public const string JsonContentType = "application/json; charset=utf-8";
    public const string ProblemContentType = "application/problem+json";

    public static JsonReply Json<T>(T body, int status = StatusCodes.Status200OK) =>
        new(status, ApiJson.Serialize(body), JsonContentType);

    public static JsonReply Problem(ApiException problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        var body = problem.Errors is { Count: > 0 } errors
            ? ApiJson.Serialize(new ProblemWithErrors(problem.ToBody(), errors))
            : ApiJson.Serialize(problem.ToBody());
        var reply = new JsonReply(problem.Status, body, ProblemContentType);
        foreach (var (name, value) in problem.Headers)
        {
            reply.Headers[name] = value;
        }

        return reply;
    }

    /// <summary>A problem body with the failing locations of a payload.</summary>
    private sealed record ProblemWithErrors(string Type, string Title, int Status, string Detail, string ReasonCode, IReadOnlyList<ProblemError> Errors)
    {
        public ProblemWithErrors(ProblemBody body, IReadOnlyList<ProblemError> errors)
            : this(body.Type, body.Title, body.Status, body.Detail, body.ReasonCode, errors)
        {
        }
    }
}

/// <summary>
/// A JSON response, serialized up front so that it can be stored and replayed byte for byte (idempotent retries).
/// </summary>
public sealed class JsonReply(int status, string body, string contentType) : IResult
{
    public int Status { get; } = status;

    public string Body { get; } = body;

    public string ContentType { get; } = contentType;

    public Dictionary<string, string> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);

    public JsonReply WithHeader(string name, string value)
    {
        Headers[name] = value;
        return this;
    }

    public StoredResponse ToStored() => new(Status, Body, ContentType, Headers.TryGetValue("Location", out var location) ? location : null);

    public static JsonReply Replay(StoredResponse stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        var reply = new JsonReply(stored.Status, stored.Body, stored.ContentType).WithHeader("Idempotent-Replayed", "true");
        return stored.Location is null ? reply : reply.WithHeader("Location", stored.Location);
    }

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        var response = httpContext.Response;
        response.StatusCode = Status;
        response.ContentType = ContentType;
        foreach (var (name, value) in Headers)
        {
            response.Headers[name] = value;
        }

        await response.WriteAsync(Body, httpContext.RequestAborted);
    }
}
