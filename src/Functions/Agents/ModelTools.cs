using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace AgentRuns.Functions.Agents;

/// <summary>
/// A tool the model agent may call: a Microsoft.Extensions.AI function (its name, description and parameter schema go to the
/// model). A function wrapped in <see cref="ApprovalRequiredAIFunction"/> waits for a human's approval before it runs;
/// <paramref name="AllowEdits"/> lets the approver change its arguments (checked against the function's parameter schema).
/// </summary>
public sealed record ModelTool(AIFunction Function, bool AllowEdits = false)
{
    public string Name => Function.Name;

    /// <summary>True when a human approves each call first: the function is (or wraps) an <see cref="ApprovalRequiredAIFunction"/>.</summary>
    public bool RequiresApproval => Function.GetService<ApprovalRequiredAIFunction>() is not null;
}

/// <summary>
/// What a tool's function is told about the call it serves, in <see cref="AIFunctionArguments.Context"/> (read it with
/// <see cref="Of"/>). <see cref="ToolCallId"/> is the same however often the call runs: a tool with side effects keys them by it,
/// since a retried step may run a tool again.
/// </summary>
public sealed record ToolCallContext(string TenantId, string RunId, string ToolCallId, int StepIndex)
{
    /// <summary>The context of the call these arguments belong to.</summary>
    public static ToolCallContext Of(AIFunctionArguments arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        return arguments.Context is { } context && context.TryGetValue(typeof(ToolCallContext), out var value) && value is ToolCallContext call
            ? call
            : throw new InvalidOperationException("The tool was not called by the model agent (no ToolCallContext).");
    }
}

public static class ModelToolServiceCollectionExtensions
{
    /// <summary>
    /// Gives the model agent a tool. Wrap the function in <see cref="ApprovalRequiredAIFunction"/> for a tool that must wait for a
    /// human (a <c>run.awaiting_input</c> approval request); <paramref name="allowEdits"/> lets the human change its arguments.
    /// </summary>
    public static IServiceCollection AddModelAgentTool(this IServiceCollection services, AIFunction function, bool allowEdits = false)
    {
        ArgumentNullException.ThrowIfNull(function);
        return services.AddSingleton(new ModelTool(function, allowEdits));
    }

    /// <summary>Gives the model agent a tool built from services (a tool that writes to storage, calls an API…).</summary>
    public static IServiceCollection AddModelAgentTool(this IServiceCollection services, Func<IServiceProvider, ModelTool> tool)
    {
        ArgumentNullException.ThrowIfNull(tool);
        return services.AddSingleton(tool);
    }
}
