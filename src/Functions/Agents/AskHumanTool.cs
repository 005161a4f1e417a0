using System.Text.Json;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Schemas;
using Microsoft.Extensions.AI;

namespace AgentRuns.Functions.Agents;

/// <summary>
/// The model agent's built-in <c>ask_human</c> tool: the model asks a person a question (a clarification, or data it needs,
/// optionally with a JSON Schema of the answer); the run waits in <c>awaiting_input</c> with the question as the prompt, and the
/// <c>submit_input</c> payload becomes the tool's result.
/// </summary>
public static class AskHumanTool
{
    public const string Name = "ask_human";

    /// <summary>The longest question a request carries.</summary>
    public const int MaxQuestionChars = 4000;

    public static AIFunctionDeclaration Declaration { get; } = AIFunctionFactory.CreateDeclaration(
        Name,
        "Asks a person and waits for the answer. Use it when you need a decision, a clarification or information only a person can give.",
        JsonDocument.Parse("""
            {
              "type": "object",
              "properties": {
                "question": { "type": "string", "description": "What to ask, in full: the person sees only this." },
                "kind": { "type": "string", "enum": ["clarification", "data"], "description": "clarification (default): the goal is unclear; data: a value is missing." },
                "response_schema": { "type": "object", "description": "Optional JSON Schema (2020-12) of the JSON object the person must answer with." }
              },
              "required": ["question"]
            }
            """).RootElement.Clone());

    /// <summary>The request a call asks for; null with an error for the model when its arguments are unusable.</summary>
    /// <param name="droppedSchema">Why the model's response_schema was left out (the API would refuse it), or null.</param>
    public static HumanRequestSpec? ToRequest(string argumentsJson, out string? error, out string? droppedSchema)
    {
        ArgumentNullException.ThrowIfNull(argumentsJson);
        error = null;
        droppedSchema = null;
        using var arguments = JsonDocument.Parse(argumentsJson);
        var root = arguments.RootElement;
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("question", out var q) || q.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(q.GetString()))
        {
            error = "ask_human needs a non-empty string 'question'.";
            return null;
        }

        var question = q.GetString()!;
        if (question.Length > MaxQuestionChars)
        {
            error = $"The question has {question.Length} characters; ask in at most {MaxQuestionChars}.";
            return null;
        }

        var kind = root.TryGetProperty("kind", out var k) && k.ValueKind == JsonValueKind.String && k.GetString() == InputKinds.Data
            ? InputKinds.Data
            : InputKinds.Clarification;

        string? schema = null;
        if (root.TryGetProperty("response_schema", out var s) && s.ValueKind != JsonValueKind.Null)
        {
            schema = s.GetRawText();
            if (ResponseSchemas.Check(schema) is { } refused)
            {
                droppedSchema = refused;
                schema = null;
            }
        }

        return new HumanRequestSpec(kind, question, ResponseSchemaJson: schema);
    }
}
