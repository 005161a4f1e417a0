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
