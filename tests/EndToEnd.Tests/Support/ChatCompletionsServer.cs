using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AgentRuns.EndToEnd.Tests.Support;

/// <summary>A chat-completions request as the server got it.</summary>
public sealed record ChatRequest(string Path, string? Authorization, string Body)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;

    public string Goal => ChatCompletions.FirstUserText(Json) ?? "";

    public IReadOnlyList<(string ToolCallId, string Content)> ToolResults => ChatCompletions.ToolResults(Json);
}

/// <summary>
/// An OpenAI-compatible chat-completions server inside the test process (Kestrel on 127.0.0.1, plain HTTP, a free port), the kind a
/// developer runs on their machine: <c>POST /v1/chat/completions</c> answers with pre-set messages and tool calls. The answer is
/// decided by the conversation in the request (not by a counter), so a retried call gets the same answer:
/// no tool result yet → draft the email; the draft's result → send it (the human approves first); the send's result → the final
/// answer. The first request of each conversation gets a 503, so the service's retry runs over real HTTP too.
/// </summary>
public sealed class ChatCompletionsServer : IAsyncDisposable
{
    public const string FinalAnswer = "Sent the weekly team update to team@example.com.";

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ChatRequest> _received = new();
    private readonly ConcurrentDictionary<string, bool> _failedOnce = new(StringComparer.Ordinal);

    private ChatCompletionsServer(WebApplication app)
    {
        _app = app;
        _app.MapPost("/v1/chat/completions", HandleAsync);
    }

    /// <summary>The base URL the service is given as <c>ModelAgent:Endpoint</c>.</summary>
    public string Endpoint { get; private set; } = "";

    public IReadOnlyList<ChatRequest> Received => [.. _received];

    public static async Task<ChatCompletionsServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var server = new ChatCompletionsServer(builder.Build());
        await server._app.StartAsync();
        server.Endpoint = server._app.Urls.Single() + "/v1";
        return server;
    }

    public IReadOnlyList<ChatRequest> For(string goalContains) => [.. Received.Where(r => r.Goal.Contains(goalContains, StringComparison.Ordinal))];

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var request = new ChatRequest(context.Request.Path, context.Request.Headers.Authorization.ToString() is { Length: > 0 } a ? a : null, await reader.ReadToEndAsync());
        _received.Enqueue(request);
        var json = request.Json;
        var model = json.GetProperty("model").GetString()!;
        context.Response.ContentType = "application/json";
        if (_failedOnce.TryAdd(request.Goal, true))
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            await context.Response.WriteAsync(ChatCompletions.Error("warming up"));
            return;
        }

        var results = request.ToolResults.Select(r => r.ToolCallId).ToHashSet(StringComparer.Ordinal);
        var email = new { to = "team@example.com", subject = "Weekly team update", body = "This week: the model agent shipped." };
        var answer = results.Contains("call_send")
            ? ChatCompletions.Response(model, FinalAnswer)
            : results.Contains("call_draft")
                ? ChatCompletions.Response(model, null, new PresetToolCall("call_send", "send_email", email))
                : ChatCompletions.Response(model, "Drafting the update first.", new PresetToolCall("call_draft", "draft_email", email));
        await context.Response.WriteAsync(answer);
    }
}
