using System.ClientModel;
using System.Text.Json;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Security;
using AgentRuns.Functions.Storage;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;

namespace AgentRuns.Functions.Agents;

/// <summary>
/// The tool-calling model agent, on Microsoft.Extensions.AI's <see cref="IChatClient"/>. Each step of a run (one <c>InvokeAgent</c>
/// activity) makes at most one model call:
/// <list type="number">
/// <item>it reads the run's conversation from storage (<see cref="ModelConversationStore"/>); a step whose decision is stored
/// returns that decision (a retried activity asks nothing again);</item>
/// <item>it takes in the human's new answer (an approval runs the tool with the approved arguments; an <c>ask_human</c> answer is
/// the tool's result);</item>
/// <item>it runs the model's outstanding tool calls in order, stopping at the first that needs a human
/// (<see cref="ModelHumanRequests"/>);</item>
/// <item>with every call answered it asks the model once (unless the run used its <c>MaxTurns</c>), stores the response before
/// acting on it, and runs its calls the same way; a response without tool calls is the run's output.</item>
/// </list>
/// Every message is stored as soon as it exists, so an attempt that dies mid-step is carried on by the next from where it
/// stopped: the model is never asked twice for a step whose response is stored. A tool may run twice (the attempt died after
/// the tool ran and before its result was stored): tools key their side effects by <see cref="ToolCallContext.ToolCallId"/>.
/// What the step did (the model's message, each tool call with its arguments masked and a summary of its result) comes back as
/// progress notes, written to the run's log before the decision takes effect.
/// </summary>
public sealed partial class ModelAgent : IAgent
{
    /// <summary>What the model is told about its job.</summary>
    public const string Instructions =
        "You carry out the user's goal with the tools you have. Tools that act on the world may need a person's approval: " +
        "call them with the arguments you propose, and the person approves, edits or rejects the call. When you need a decision " +
        "or information only a person can give, call ask_human. When the goal is done, answer with a short summary of what you did.";

    /// <summary>Tool calls one model turn may make; more are dropped (the model is told) so that a step's log stays one write.</summary>
    public const int MaxToolCallsPerTurn = 16;

    /// <summary>Nesting of a tool call's arguments that the JSON readers here take (their default).</summary>
    public const int MaxArgumentsDepth = 64;

    private const int MaxTextChars = 100_000;
    private const int MaxResultChars = 32_000;
    private const int MaxNoteChars = 1_000;
    private const int MaxNoteArgumentsChars = 8_000;

    private static readonly JsonSerializerOptions DecisionJson = new(JsonSerializerDefaults.Web) { Encoder = ApiJson.Encoder };

    private readonly ModelConversationStore store;
    private readonly ModelToolset tools;
    private readonly PayloadRedactor redactor;
    private readonly IOptions<ModelAgentOptions> options;
    private readonly IServiceProvider services;
    private readonly ILogger<ModelAgent> logger;
    private IChatClient? _chat;

    /// <param name="services">Where the chat client (keyed <see cref="AgentNames.Model"/>) comes from, at the first model call: a
    /// service that is not configured never builds one.</param>
    public ModelAgent(
        ModelConversationStore store, ModelToolset tools, PayloadRedactor redactor, IOptions<ModelAgentOptions> options, IServiceProvider services,
        ILogger<ModelAgent> logger)
    {
        this.store = store;
        this.tools = tools;
        this.redactor = redactor;
        this.options = options;
        this.services = services;
        this.logger = logger;
    }

    public async Task<AgentDecision> DecideAsync(AgentStepInput input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        var conversation = await store.LoadAsync(input.RunId, cancellationToken);
        if (conversation.Decisions.TryGetValue(input.StepIndex, out var stored))
        {
            return Read(stored);
        }

        var decision = await new Step(this, input, [.. conversation.Entries]).DecideAsync(cancellationToken);
        try
        {
            return Read(await store.SaveDecisionAsync(input.RunId, input.StepIndex, JsonSerializer.Serialize(decision, DecisionJson), cancellationToken));
        }
        catch (ConversationTooLargeException ex)
        {
            // Another attempt would make the same decision: the run ends rather than retry a write that cannot succeed.
            LogTooLargeToStore(logger, input.RunId, input.StepIndex, "decision", ex.Bytes);
            var failed = AgentDecision.Fail(
                RunReasonCodes.AgentError, $"The model agent's decision at step {input.StepIndex} is too large to store ({ex.Bytes} bytes; at most {LargeText.MaxEntityBytes}).");
            return Read(await store.SaveDecisionAsync(input.RunId, input.StepIndex, JsonSerializer.Serialize(failed, DecisionJson), cancellationToken));
        }
    }

    private static AgentDecision Read(string json) => JsonSerializer.Deserialize<AgentDecision>(json, DecisionJson)!;

    private IChatClient Chat => _chat ??= services.GetRequiredKeyedService<IChatClient>(AgentNames.Model);

    /// <summary>One step of one run: the conversation as stored, and what this step adds to it.</summary>
    private sealed class Step(ModelAgent agent, AgentStepInput input, List<ConversationEntry> entries)
    {
        private int N => input.StepIndex;

        public async Task<AgentDecision> DecideAsync(CancellationToken cancellationToken)
        {
            if (entries.Count == 0)
            {
                await AppendAsync(new ConversationEntry(0, N, ConversationRoles.User, Text: Goal(input.InputJson)), cancellationToken);
            }

            await TakeInAnswerAsync(cancellationToken);
            while (true)
            {
                if (entries.LastOrDefault(e => e.Role == ConversationRoles.Assistant) is { } last)
                {
                    foreach (var call in OpenCalls(last))
                    {
                        if (await RunOrAskAsync(call, cancellationToken) is { } request)
                        {
                            return Decided(AgentDecision.Ask(request));
                        }
                    }

                    if (last.Step == N)
                    {
                        // This step's one model call is answered: the run goes on with another step, or this was the final answer.
                        return Decided(last.ToolCalls is { Count: > 0 }
                            ? AgentDecision.Work("model", "Ran the model's tool calls.")
                            : Finish(last));
                    }
                }

                var turns = entries.Count(e => e.Role == ConversationRoles.Assistant);
                if (turns >= agent.options.Value.MaxTurns)
                {
                    return Decided(AgentDecision.Fail(
                        RunReasonCodes.AgentTurnLimit, $"The model agent used its {agent.options.Value.MaxTurns} model turns without finishing."));
                }

                var (response, failure) = await CallModelAsync(cancellationToken);
                if (failure is not null)
                {
                    return Decided(failure);
                }

                try
                {
                    await AppendAsync(response!, cancellationToken);
                }
                catch (ConversationTooLargeException ex)
                {
                    // A response that cannot be stored cannot be acted on, and asking again would only pay for another: the run ends.
                    LogTooLargeToStore(agent.logger, input.RunId, N, "model response", ex.Bytes);
                    return Decided(AgentDecision.Fail(RunReasonCodes.AgentError, TooLarge(response!, ex.Bytes)));
                }
            }
        }

        private static string TooLarge(ConversationEntry response, long bytes)
        {
            var calls = response.ToolCalls ?? [];
            return $"The model's response at step {response.Step} is too large to store ({bytes} bytes; a stored message holds at most {LargeText.MaxEntityBytes}): " +
                $"{response.Text?.Length ?? 0} characters of text and {calls.Count} tool calls with {calls.Sum(c => (long)c.ArgumentsJson.Length)} characters of arguments.";
        }

        private AgentDecision Finish(ConversationEntry answer)
        {
            if (string.IsNullOrWhiteSpace(answer.Text))
            {
                return AgentDecision.Fail(RunReasonCodes.AgentError, "The model answered with neither text nor a tool call.");
            }

            var turns = entries.Count(e => e.Role == ConversationRoles.Assistant);
            return AgentDecision.Finish(JsonText.Object(w =>
            {
                w.WriteString("answer", answer.Text);
                w.WriteNumber("turns", turns);
            }));
        }

        /// <summary>A human answered the request the previous step opened: that call gets its result.</summary>
        private async Task TakeInAnswerAsync(CancellationToken cancellationToken)
        {
            var consumed = entries.Count(e => e.AnswerIndex is not null);
            if (input.Answers.Count == consumed)
            {
                return;
            }

            if (input.Answers.Count != consumed + 1)
            {
                throw new InvalidOperationException($"Run {input.RunId}: {input.Answers.Count} answers, {consumed} taken in; at most one arrives per step.");
            }

            var answer = input.Answers[consumed];
            var last = entries.LastOrDefault(e => e.Role == ConversationRoles.Assistant);
            var call = (last is null ? null : OpenCalls(last).FirstOrDefault())
                ?? throw new InvalidOperationException($"Run {input.RunId}: an answer arrived, but no tool call waits for one.");
            string resultJson;
            var arguments = call.ArgumentsJson;
            var isError = false;
            if (answer.Action == SignalActions.Approve && call.Name != AskHumanTool.Name)
            {
                var tool = agent.tools.Find(call.Name) ?? throw new InvalidOperationException($"Tool {call.Name} was approved but is gone.");
                (arguments, var edited) = ModelHumanRequests.ApprovedArguments(answer, call);
                (resultJson, isError) = await InvokeAsync(tool, call, arguments, cancellationToken);
                if (edited && !isError)
                {
                    resultJson = ModelHumanRequests.EditedResult(arguments, resultJson);
                }
            }
            else
            {
                // submit_input: the human's payload is the result (ask_human; a request that allows it).
                resultJson = answer.PayloadJson ?? "{}";
            }

            await AppendAsync(
                new ConversationEntry(entries.Count, N, ConversationRoles.Tool, ToolCallId: call.Id, ToolName: call.Name, ArgumentsJson: arguments,
                    ResultJson: resultJson, AnswerIndex: consumed, IsError: isError),
                cancellationToken);
        }

        /// <summary>Runs a call that needs no human and stores its result; returns the request a call that needs one asks.</summary>
        private async Task<HumanRequestSpec?> RunOrAskAsync(ModelToolCall call, CancellationToken cancellationToken)
        {
            if (call.NameError is { } notAName)
            {
                await ResultAsync(call, Error(notAName), isError: true, cancellationToken);
                return null;
            }

            if (call.ArgumentsError is { } invalid)
            {
                await ResultAsync(call, Error($"The arguments could not be read: {invalid}"), isError: true, cancellationToken);
                return null;
            }

            if (call.Name == AskHumanTool.Name)
            {
                var request = AskHumanTool.ToRequest(call.ArgumentsJson, out var error, out var droppedSchema);
                if (request is null)
                {
                    await ResultAsync(call, Error(error!), isError: true, cancellationToken);
                    return null;
                }

                if (droppedSchema is not null)
                {
                    LogSchemaDropped(agent.logger, input.RunId, call.Id, droppedSchema);
                }

                return request;
            }

            var tool = agent.tools.Find(call.Name);
            if (tool is null)
            {
                await ResultAsync(call, Error($"There is no tool named '{call.Name}'."), isError: true, cancellationToken);
                return null;
            }

            if (tool.RequiresApproval)
            {
                // What the approver sees is kept in the run's record: arguments too long for that are the model's to shorten.
                var approval = ModelHumanRequests.Approval(tool, call);
                if (approval.ProposedActionJson is { Length: > RunLimits.MaxProposedActionChars } proposed)
                {
                    await ResultAsync(
                        call,
                        Error($"The arguments are too long to put before a human ({proposed.Length} characters of JSON; at most {RunLimits.MaxProposedActionChars}): call {call.Name} again with shorter ones."),
                        isError: true,
                        cancellationToken);
                    return null;
                }

                return approval;
            }

            (string result, bool failed) = await InvokeAsync(tool, call, call.ArgumentsJson, cancellationToken);
            await ResultAsync(call, result, failed, cancellationToken);
            return null;
        }

        private Task ResultAsync(ModelToolCall call, string resultJson, bool isError, CancellationToken cancellationToken) =>
            AppendAsync(
                new ConversationEntry(entries.Count, N, ConversationRoles.Tool, ToolCallId: call.Id, ToolName: call.Name, ArgumentsJson: call.ArgumentsJson,
                    ResultJson: resultJson, IsError: isError),
                cancellationToken);

        /// <summary>
        /// Runs a tool. Bad arguments (what the function's binding or its own checks refuse with an ArgumentException or a
        /// JsonException) are an error result the model can act on; any other failure fails the step, which is retried.
        /// </summary>
        private async Task<(string Json, bool IsError)> InvokeAsync(ModelTool tool, ModelToolCall call, string argumentsJson, CancellationToken cancellationToken)
        {
            var arguments = new AIFunctionArguments(ParseArguments(argumentsJson))
            {
                Services = agent.services,
                Context = new Dictionary<object, object?> { [typeof(ToolCallContext)] = new ToolCallContext(input.TenantId, input.RunId, call.Id, N) },
            };
            try
            {
                return (ToJson(await tool.Function.InvokeAsync(arguments, cancellationToken)), false);
            }
            catch (Exception ex) when (ex is ArgumentException or JsonException)
            {
                LogToolRefused(agent.logger, input.RunId, call.Name, call.Id, ex);
                return (Error(ex.Message), true);
            }
        }

        /// <summary>Asks the model once: its response, or the failure that ends the run (after the HTTP client's retries).</summary>
        private async Task<(ConversationEntry? Response, AgentDecision? Failure)> CallModelAsync(CancellationToken cancellationToken)
        {
            var chatOptions = new ChatOptions { Tools = [.. agent.tools.Declarations], ToolMode = ChatToolMode.Auto };
            ChatResponse response;
            try
            {
                response = await agent.Chat.GetResponseAsync(Messages(), chatOptions, cancellationToken);
            }
            catch (Exception ex) when (IsModelFailure(ex, cancellationToken))
            {
                var what = ex is ClientResultException { Status: > 0 } http ? $"HTTP {http.Status}" : ex.GetType().Name;
                LogModelFailed(agent.logger, input.RunId, N, what, ex);
                return (null, AgentDecision.Fail(RunReasonCodes.AgentError, $"The model call failed ({what}): {ModelHumanRequests.Cut(ex.Message, 500)}"));
            }

            var calls = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().ToList();
            var text = response.Text;
            var used = entries.SelectMany(e => e.ToolCalls ?? []).Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
            return (new ConversationEntry(
                entries.Count,
                N,
                ConversationRoles.Assistant,
                Text: text.Length > MaxTextChars ? ModelHumanRequests.Cut(text, MaxTextChars) : text,
                ToolCalls: [.. calls.Take(MaxToolCallsPerTurn).Select((c, i) => ToToolCall(c) with { Id = UniqueCallId(c.CallId, entries.Count, i, used) })],
                DroppedToolCalls: Math.Max(0, calls.Count - MaxToolCallsPerTurn)), null);
        }

        /// <summary>
        /// The call's id as stored, unique in the run: the model's, unless an earlier call of the run (or of this response) has it
        /// or it is empty. Tools key their side effects by it (<see cref="ToolCallContext.ToolCallId"/>) and the conversation
        /// matches results to calls by it, but models only promise ids unique in one response, and some OpenAI-compatible
        /// servers number them per response ("call_0" every turn): a second send_email would then be taken for the first and
        /// never sent. The id is fixed when the response is stored, before anything acts on it, so every retry sees the same.
        /// </summary>
        private static string UniqueCallId(string? modelId, int entryIndex, int position, HashSet<string> used)
        {
            // The id is stored, shown as proposed_action.tool_call_id and keys the email outbox's row (at most 1 KiB): one that is
            // not a plain short id is replaced by one derived from it. The model sees the replacement in the conversation it is
            // sent back, call and result alike.
            var id = string.IsNullOrEmpty(modelId) ? "call"
                : IsPlainCallId(modelId) ? modelId
                : "call_" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(modelId)))[..24];
            if (!used.Add(id))
            {
                id = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{id}-{entryIndex}-{position}");
                used.Add(id);
            }

            return id;
        }

        /// <summary>At most 64 characters of letters, digits, '_', '-', '.' and ':' (what model services use: <c>call_…</c>, <c>toolu_…</c>).</summary>
        private static bool IsPlainCallId(string id) =>
            id.Length <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or ':');

        private static bool IsModelFailure(Exception ex, CancellationToken cancellationToken) => ex switch
        {
            ClientResultException or HttpRequestException or ExecutionRejectedException or TimeoutException => true,
            OperationCanceledException => !cancellationToken.IsCancellationRequested,
            _ => false,
        };

        /// <summary>
        /// The call as stored. A name that is not a tool name is stored as <see cref="ModelToolset.NotAToolName"/> (it reaches no log, no
        /// event and no later request), and the model is told; arguments nested deeper than <see cref="MaxArgumentsDepth"/> (which no
        /// reader here takes) are an error result, as arguments that are not JSON are.
        /// </summary>
        private static ModelToolCall ToToolCall(FunctionCallContent call)
        {
            if (!ModelToolset.IsToolName(call.Name))
            {
                return new ModelToolCall(call.CallId, ModelToolset.NotAToolName, "{}", NameError: ModelToolset.WhyNotAToolName(call.Name));
            }

            if (call.Exception is { } invalid)
            {
                return new ModelToolCall(call.CallId, call.Name, "{}", invalid.Message);
            }

            try
            {
                var json = JsonSerializer.Serialize(call.Arguments ?? new Dictionary<string, object?>(), AIJsonUtilities.DefaultOptions);
                using var depthChecked = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = MaxArgumentsDepth });
                return new ModelToolCall(call.CallId, call.Name, json);
            }
            catch (Exception ex) when (ex is JsonException or InvalidOperationException)
            {
                return new ModelToolCall(call.CallId, call.Name, "{}", $"they are nested deeper than {MaxArgumentsDepth} levels.");
            }
        }

        /// <summary>The conversation as the model sees it: the instructions, then every stored message in order.</summary>
        private List<ChatMessage> Messages()
        {
            var messages = new List<ChatMessage> { new(ChatRole.System, Instructions) };
            foreach (var entry in entries)
            {
                switch (entry.Role)
                {
                    case ConversationRoles.User:
                        messages.Add(new ChatMessage(ChatRole.User, entry.Text));
                        break;
                    case ConversationRoles.Assistant:
                        var contents = new List<AIContent>();
                        if (!string.IsNullOrEmpty(entry.Text))
                        {
                            contents.Add(new TextContent(entry.Text));
                        }

                        contents.AddRange((entry.ToolCalls ?? []).Select(c => new FunctionCallContent(c.Id, c.Name, ParseArguments(c.ArgumentsJson))));
                        messages.Add(new ChatMessage(ChatRole.Assistant, contents));
                        break;
                    case ConversationRoles.Tool:
                        messages.Add(new ChatMessage(ChatRole.Tool, [new FunctionResultContent(entry.ToolCallId!, ResultValue(entry.ResultJson))]));
                        break;
                }
            }

            return messages;
        }

        private List<ModelToolCall> OpenCalls(ConversationEntry assistant)
        {
            var answered = entries.Where(e => e.Role == ConversationRoles.Tool && e.Index > assistant.Index).Select(e => e.ToolCallId).ToHashSet(StringComparer.Ordinal);
            return (assistant.ToolCalls ?? []).Where(c => !answered.Contains(c.Id)).ToList();
        }

        private async Task AppendAsync(ConversationEntry entry, CancellationToken cancellationToken)
        {
            await agent.store.AppendAsync(input.RunId, entry, cancellationToken);
            entries.Add(entry);
        }

        /// <summary>The decision with what this step did (every attempt's messages of this step) as progress notes.</summary>
        private AgentDecision Decided(AgentDecision decision) =>
            decision with { Notes = [.. entries.Where(e => e.Step == N).SelectMany(Notes)] };

        private IEnumerable<ProgressNote> Notes(ConversationEntry entry)
        {
            switch (entry.Role)
            {
                case ConversationRoles.Assistant:
                    var calls = entry.ToolCalls ?? [];
                    var said = string.IsNullOrWhiteSpace(entry.Text) ? "" : ModelHumanRequests.Cut(entry.Text, MaxNoteChars);
                    var then = calls.Count == 0 ? "" : $"{(said.Length > 0 ? " " : "")}[calls {string.Join(", ", calls.Select(c => c.Name))}]";
                    var dropped = entry.DroppedToolCalls > 0 ? $" [{entry.DroppedToolCalls} more calls dropped: at most {MaxToolCallsPerTurn} per turn]" : "";
                    yield return new ProgressNote("model", said + then + dropped);
                    break;
                case ConversationRoles.Tool:
                    var result = entry.ToolName == AskHumanTool.Name && entry.AnswerIndex is not null
                        ? "The human answered."
                        : (entry.IsError ? "Failed: " : "Result: ") + ModelHumanRequests.Cut(Masked(entry.ResultJson ?? "null"), MaxNoteChars);
                    yield return new ProgressNote(entry.ToolName ?? "tool", result, MaskedArguments(entry.ArgumentsJson ?? "{}"));
                    break;
            }
        }

        private string Masked(string json) => agent.redactor.Redact(json).Json;

        private string MaskedArguments(string json)
        {
            var masked = Masked(json);
            return masked.Length <= MaxNoteArgumentsChars
                ? masked
                : JsonText.Object(w => w.WriteString("omitted", $"{masked.Length} characters of arguments"));
        }

        private static string Goal(string inputJson)
        {
            using var input = JsonDocument.Parse(inputJson);
            return input.RootElement.GetProperty("goal").GetString()!;
        }

        private static string Error(string message) => JsonSerializer.Serialize($"Error: {message}", DecisionJson);

        private static string ToJson(object? result)
        {
            var json = result switch
            {
                null => "null",
                JsonElement element => element.GetRawText(),
                _ => JsonSerializer.Serialize(result, AIJsonUtilities.DefaultOptions),
            };
            return json.Length <= MaxResultChars
                ? json
                : JsonSerializer.Serialize($"{ModelHumanRequests.Cut(json, MaxResultChars)} (the result was cut at {MaxResultChars} characters)", DecisionJson);
        }

        /// <summary>A JSON string result goes to the model as its text; anything else as JSON.</summary>
        private static object? ResultValue(string? json)
        {
            if (json is null)
            {
                return null;
            }

            var element = ApiJson.ParseElement(json);
            return element.ValueKind == JsonValueKind.String ? element.GetString() : element;
        }

        private static Dictionary<string, object?> ParseArguments(string json)
        {
            var element = ApiJson.ParseElement(json);
            return element.ValueKind == JsonValueKind.Object
                ? element.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone(), StringComparer.Ordinal)
                : [];
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId} step {Step}: the model call failed ({What}); the run ends with agent_error")]
    private static partial void LogModelFailed(ILogger logger, string runId, int step, string what, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId} step {Step}: the {What} is too large to store ({Bytes} bytes); the run ends with agent_error")]
    private static partial void LogTooLargeToStore(ILogger logger, string runId, int step, string what, long bytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}: tool {Tool} (call {ToolCallId}) refused its arguments; the model is told")]
    private static partial void LogToolRefused(ILogger logger, string runId, string tool, string toolCallId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: the response_schema of ask_human call {ToolCallId} is not one the API accepts ({Problem}); asked without it")]
    private static partial void LogSchemaDropped(ILogger logger, string runId, string toolCallId, string problem);
}
