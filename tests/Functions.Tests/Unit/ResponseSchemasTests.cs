using AgentRuns.Functions.Schemas;

namespace AgentRuns.Functions.Tests.Unit;

/// <summary>
/// Response schemas whose references loop. The schema library follows a <c>$ref</c> without limit: a loop that does not descend
/// into the value overflowed the stack, which ends the process (a test host crash here; the whole Functions host in Azure).
/// </summary>
public sealed class ResponseSchemasTests
{
    [Theory]
    [InlineData("""{"if":{"type":"object"},"then":{"$ref":"#"}}""")]
    [InlineData("""{"$defs":{"a":{"anyOf":[{"$ref":"#/$defs/b"}]},"b":{"allOf":[{"not":{"$ref":"#/$defs/a"}}]}},"$ref":"#/$defs/a"}""")]
    [InlineData("""{"$dynamicAnchor":"n","if":{"type":"object"},"then":{"$dynamicRef":"#n"}}""")]
    public void ASchemaThatLoopsOnItself_IsRefused_WithoutCrashingTheProcess(string schema)
    {
        var refused = ResponseSchemas.Check(schema);

        Assert.NotNull(refused);
        Assert.Contains("loops", refused, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"properties":{"x":{"if":{"type":"string"},"then":{"$ref":"#/properties/x"}}}}""", """{"x":"s"}""", "/x")]
    [InlineData("""{"properties":{"x":{"$ref":"#/$defs/a"}},"$defs":{"a":{"anyOf":[{"type":"integer"},{"$ref":"#/$defs/b"}]},"b":{"allOf":[{"$ref":"#/$defs/a"}]}}}""", """{"x":"no"}""", "/x")]
    public void ASchemaThatLoopsOnlyForSomeValues_IsAccepted_AndThoseValuesAreRefusedWithWhere_WithoutCrashingTheProcess(
        string schema, string answer, string pointer)
    {
        Assert.Null(ResponseSchemas.Check(schema));

        var errors = ResponseSchemas.Validate(schema, answer);

        var error = Assert.Single(errors);
        Assert.Equal(pointer, error.Pointer);
        Assert.Contains("loops", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ARecursiveSchemaThatDescendsIntoTheValue_StillChecksDeepValues()
    {
        const string Tree = """{"type":"object","required":["name"],"properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#"}}}}""";
        var deep = "{\"name\":\"leaf\"}";
        for (var i = 0; i < 14; i++)
        {
            deep = $"{{\"name\":\"n{i}\",\"children\":[{deep}]}}";
        }

        Assert.Null(ResponseSchemas.Check(Tree));
        Assert.Empty(ResponseSchemas.Validate(Tree, deep));
        var bad = deep.Replace("\"name\":\"leaf\"", "\"name\":7", StringComparison.Ordinal);
        Assert.Contains(ResponseSchemas.Validate(Tree, bad), e => e.Pointer.EndsWith("/children/0/name", StringComparison.Ordinal));
    }
}
