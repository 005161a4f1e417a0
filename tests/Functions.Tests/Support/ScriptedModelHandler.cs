using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace AgentRuns.Functions.Tests.Support;

/// <summary>A request the stand-in model server received.</summary>
public sealed record ModelHttpRequest(string Method, string Path, string? Authorization, JsonElement Body);

/// <summary>
/// The model agent's HTTP client's last handler in the test host: an OpenAI-compatible chat-completions server in memory, so the
/// real SDK and the resilience handler (retries, back-off) run. A run whose goal carries <see cref="Goal"/>'s tag gets
/// <c>answer(attempt, request)</c> for its n-th request (0 for the first).
/// </summary>
public sealed partial class ScriptedModelHandler : HttpMessageHandler
{
    private static readonly ConcurrentDictionary<string, Server> Servers = new(StringComparer.Ordinal);

    public static Server Register(Func<int, ModelHttpRequest, HttpResponseMessage> answer)
    {
        var server = new Server(answer);
        Servers[server.Id] = server;
        return server;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var text = request.Content is null ? "{}" : await request.Content.ReadAsStringAsync(cancellationToken);
        using var body = JsonDocument.Parse(text);
        var received = new ModelHttpRequest(
            request.Method.Method, request.RequestUri!.AbsolutePath, request.Headers.Authorization?.ToString(), body.RootElement.Clone());
        var goal = AgentRuns.Testing.ChatCompletions.FirstUserText(received.Body) ?? "";
        var tag = Tag().Match(goal);
        if (!tag.Success || !Servers.TryGetValue(tag.Groups["id"].Value, out var server))
        {
            return new HttpResponseMessage(HttpStatusCode.NotFound) { Content = new StringContent("no script", Encoding.UTF8, "text/plain") };
        }

        return server.Receive(received);
    }

    [GeneratedRegex(@"\[http:(?<id>[0-9a-f]{12})\]")]
    private static partial Regex Tag();

    public sealed class Server(Func<int, ModelHttpRequest, HttpResponseMessage> answer)
    {
        private readonly ConcurrentQueue<ModelHttpRequest> _requests = new();
        private int _count;

        public string Id { get; } = Guid.NewGuid().ToString("N")[..12];

        public IReadOnlyList<ModelHttpRequest> Requests => [.. _requests];

        public string CreateBody(string goal = "Draft and send the weekly team update email.") =>
            JsonSerializer.Serialize(new { input = new { goal = $"{goal} [http:{Id}]" }, agent = "model" });

        internal HttpResponseMessage Receive(ModelHttpRequest request)
        {
            _requests.Enqueue(request);
            return answer(Interlocked.Increment(ref _count) - 1, request);
        }
    }

    public static HttpResponseMessage Json(HttpStatusCode status, string json, Action<HttpResponseMessage>? headers = null)
    {
        var response = new HttpResponseMessage(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        headers?.Invoke(response);
        return response;
    }
}
