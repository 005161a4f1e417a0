using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Agents;

/// <summary>
/// The tools the model agent offers the model: the built-in <c>ask_human</c>, the sample email tools (unless
/// <c>ModelAgent:SampleTools</c> is false) and every <see cref="ModelTool"/> registered in DI. Names are unique.
/// </summary>
public sealed partial class ModelToolset
{
    private readonly Dictionary<string, ModelTool> _tools = new(StringComparer.Ordinal);

    public ModelToolset(IEnumerable<ModelTool> registered, SampleEmailTools samples, IOptions<ModelAgentOptions> options, ILogger<ModelToolset> logger)
    {
        ArgumentNullException.ThrowIfNull(registered);
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(options);
        foreach (var tool in (options.Value.SampleTools ? samples.Tools : []).Concat(registered))
        {
            if (!IsToolName(tool.Name))
            {
                throw new InvalidOperationException($"The model agent's tool '{tool.Name}' needs a name of 1 to {MaxNameChars} characters of a-z, A-Z, 0-9, _ and -.");
            }

            if (tool.Name == AskHumanTool.Name || !_tools.TryAdd(tool.Name, tool))
            {
                throw new InvalidOperationException($"The model agent has two tools named '{tool.Name}' ({AskHumanTool.Name} is built in).");
            }

            // The parameter schema becomes the approval request's response_schema: it must be one the API accepts.
            if (tool.RequiresApproval && ResponseSchemaOf(tool) is null)
            {
                LogSchemaRefused(logger, tool.Name);
            }
        }

        Declarations = [AskHumanTool.Declaration, .. _tools.Values.Select(t => (AITool)t.Function)];
    }

    /// <summary>What the model is told it may call.</summary>
    public IReadOnlyList<AITool> Declarations { get; }

    public ModelTool? Find(string name) => _tools.GetValueOrDefault(name);

    /// <summary>The longest tool name (the OpenAI API's limit).</summary>
    public const int MaxNameChars = 64;

    /// <summary>What a call whose name is not a tool name is stored, shown and sent back to the model as.</summary>
    public const string NotAToolName = "not_a_tool_name";

    /// <summary>
    /// A name a tool can have, as the OpenAI API defines it: 1 to 64 characters of a-z, A-Z, 0-9, _ and -. A model's call with any
    /// other name calls no tool, and its name is not kept: a broken or hostile model could otherwise put megabytes into the run's
    /// log and the stored conversation.
    /// </summary>
    public static bool IsToolName(string? name) => name is { Length: > 0 and <= MaxNameChars } && ToolName().IsMatch(name);

    /// <summary>What the model is told about a name that is not a tool name: its start and its length, never all of it.</summary>
    public static string WhyNotAToolName(string? name) =>
        $"'{ModelHumanRequests.Cut(name ?? "", MaxNameChars)}' ({name?.Length ?? 0} characters) is not a tool name: a tool name is 1 to {MaxNameChars} " +
        "characters of a-z, A-Z, 0-9, _ and -, and one of the tools you were given.";

    [System.Text.RegularExpressions.GeneratedRegex("^[a-zA-Z0-9_-]+$")]
    private static partial System.Text.RegularExpressions.Regex ToolName();

    /// <summary>The tool's parameter schema as a response schema, or null when the API would refuse it (it is then not sent).</summary>
    public static string? ResponseSchemaOf(ModelTool tool)
    {
        ArgumentNullException.ThrowIfNull(tool);
        var schema = tool.Function.JsonSchema.GetRawText();
        return Schemas.ResponseSchemas.Check(schema) is null ? schema : null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The parameter schema of tool {Tool} is not a response schema the API accepts; its approval requests go without one, and without edits")]
    private static partial void LogSchemaRefused(ILogger logger, string tool);
}
