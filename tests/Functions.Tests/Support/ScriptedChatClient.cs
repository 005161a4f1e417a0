using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.RegularExpressions;
using AgentRuns.Functions.Agents;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace AgentRuns.Functions.Tests.Support;

/// <summary>What the model was asked in one call: the messages (role, text, tool calls and results) and the tools offered.</summary>
public sealed record ModelCall(int Turn, IReadOnlyList<ChatMessage> Messages, IReadOnlyList<string> Tools)
{
    /// <summary>The tool results the model was given, in order: (call id, result as the model sees it).</summary>
    public IReadOnlyList<(string CallId, string Result)> ToolResults =>
        [.. Messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>().Select(r => (r.CallId, r.Result is string s ? s : JsonSerializer.Serialize(r.Result)))];
}

/// <summary>
/// A model's pre-set answers for one run: <see cref="Goal"/> tags the run's goal so the scripted chat client finds the script.
/// The answer depends on the turn (how many answers the model gave before in this conversation), so a step that asks again
/// gets the same answer.
/// </summary>
public sealed class ModelScript(Func<int, IReadOnlyList<ChatMessage>, ChatResponse> answer)
{
    private readonly ConcurrentQueue<ModelCall> _calls = new();

    public string Id { get; } = Guid.NewGuid().ToString("N")[..12];

    public IReadOnlyList<ModelCall> Calls => [.. _calls];

    public string Goal(string text = "Draft and send the weekly team update email.") => $"{text} [script:{Id}]";

    /// <summary>The create body of a model run with this script.</summary>
    public string CreateBody(string? goal = null) =>
        JsonSerializer.Serialize(new { input = new { goal = Goal(goal ?? "Draft and send the weekly team update email.") }, agent = AgentNames.Model });

    internal ChatResponse Answer(IReadOnlyList<ChatMessage> messages, ChatOptions? options)
    {
        var turn = messages.Count(m => m.Role == ChatRole.Assistant);
        _calls.Enqueue(new ModelCall(turn, [.. messages], [.. (options?.Tools ?? []).Select(t => t.Name)]));
        return answer(turn, messages);
    }

    /// <summary>Answers by turn: turn i gets <paramref name="turns"/>[i]; past the end, the last one.</summary>
    public static ModelScript Turns(params ChatResponse[] turns) => new((turn, _) => turns[Math.Min(turn, turns.Length - 1)]);
}

/// <summary>Pre-set model answers.</summary>
public static class Reply
{
    public static ChatResponse Text(string text) => new(new ChatMessage(ChatRole.Assistant, text));

    public static ChatResponse Calls(params (string Id, string Tool, object Arguments)[] calls) => Calls(null, calls);

    public static ChatResponse Calls(string? text, params (string Id, string Tool, object Arguments)[] calls)
    {
        var contents = new List<AIContent>();
        if (text is not null)
        {
            contents.Add(new TextContent(text));
        }

        contents.AddRange(calls.Select(c => new FunctionCallContent(c.Id, c.Tool, ToDictionary(c.Arguments))));
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, contents));
    }

    private static Dictionary<string, object?> ToDictionary(object arguments)
    {
        using var document = JsonDocument.Parse(JsonSerializer.Serialize(arguments));
        return document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone());
    }
}

/// <summary>
/// The model agent's chat client in the test host (registered before the app's, so it wins): a run whose goal carries a
/// <see cref="ModelScript"/> tag gets that script's answers; a run tagged for <see cref="ScriptedModelHandler"/> goes through the
/// real chat client (OpenAI SDK, HTTP client with its resilience handler) to that handler.
/// </summary>
public sealed partial class ScriptedChatClient(IServiceProvider services) : IChatClient
{
    private static readonly ConcurrentDictionary<string, ModelScript> Scripts = new(StringComparer.Ordinal);
    private readonly Lazy<IChatClient> _real = new(() => services.GetRequiredService<ModelChatClients>().Create());

    public static ModelScript Register(ModelScript script)
    {
        ArgumentNullException.ThrowIfNull(script);
        Scripts[script.Id] = script;
        return script;
    }

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var list = messages.ToList();
        var goal = list.FirstOrDefault(m => m.Role == ChatRole.User)?.Text ?? "";
        var tag = ScriptTag().Match(goal);
        if (tag.Success && Scripts.TryGetValue(tag.Groups["id"].Value, out var script))
        {
            return Task.FromResult(script.Answer(list, options));
        }

        if (HttpTag().IsMatch(goal))
        {
            return _real.Value.GetResponseAsync(list, options, cancellationToken);
        }

        throw new InvalidOperationException($"No model script for the goal '{goal}'.");
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("The model agent does not stream.");

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }

    [GeneratedRegex(@"\[script:(?<id>[0-9a-f]{12})\]")]
    private static partial Regex ScriptTag();

    [GeneratedRegex(@"\[http:[0-9a-f]{12}\]")]
    private static partial Regex HttpTag();
}
