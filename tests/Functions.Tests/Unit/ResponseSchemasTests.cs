using AgentRuns.Functions.Schemas;

namespace AgentRuns.Functions.Tests.Unit;

/// <summary>Schemas whose danger hides on a path that checking the schema once does not take: refused when they are defined.</summary>
public sealed class ResponseSchemasTests
{
    [Theory]
    [InlineData("""{"type":"object","properties":{"x":{"$ref":"#/properties/x"}}}""", "endless loop")]                      // overflowed the stack at the first answer with x
    [InlineData("""{"type":"object","properties":{"x":{"$ref":"#/$defs/a"}},"$defs":{"a":{"allOf":[{"$ref":"#/$defs/b"}]},"b":{"anyOf":[{"$ref":"#/$defs/a"}]}}}""", "endless loop")]
    [InlineData("""{"type":"object","properties":{"x":{"not":{"$ref":"#/properties/x"}}}}""", "endless loop")]
    [InlineData("""{"type":"object","properties":{"x":{"if":true,"then":{"$ref":"#/properties/x"}}}}""", "endless loop")]
    [InlineData("""{"type":"object","properties":{"x":{"$ref":"#/$defs/missing"}}}""", "'$ref' must point into the schema itself")]
    [InlineData("""{"type":"object","if":{"required":["x"]},"then":{"$ref":"https://evil.example/s.json"}}""", "'$ref' must point into the schema itself")]
    [InlineData("""{"$id":"https://evil.example/s","type":"object","properties":{"x":{"$ref":"other.json"}}}""", "'$ref' must point into the schema itself")]
    [InlineData("""{"type":"object","properties":{"x":{"$ref":"#/required"}},"required":[]}""", "'$ref' must point into the schema itself")]
    [InlineData("""{"type":"object","properties":{"x":{"$id":"https://evil.example/x","$ref":"#/$defs/a"}}}""", "'$id' is allowed only at the root")]
    [InlineData("""{"type":"object","properties":{"x":{"$dynamicRef":"#meta"}}}""", "'$dynamicRef' is not supported")]
    [InlineData("""{"type":"object","properties":{"x":{"enum":[1,1e30]}}}""", "outside the range")]
    [InlineData("""{"type":"object","properties":{"x":{"const":{"n":1e400}}}}""", "outside the range")]
    public void ASchemaWithAHiddenDanger_IsRefused(string schema, string why)
    {
        var refused = ResponseSchemas.Check(schema);

        Assert.NotNull(refused);
        Assert.Contains(why, refused, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"type":"object","properties":{"child":{"$ref":"#"}}}""", """{"child":{"child":{"child":1}}}""", "/child/child/child")]
    [InlineData("""{"type":"object","properties":{"to":{"$ref":"#/$defs/email"}},"$defs":{"email":{"type":"string","pattern":"@"}}}""", """{"to":"x"}""", "/to")]
    [InlineData("""{"$id":"https://example.com/s","type":"object","properties":{"a%20b":{"$ref":"#/$defs/a%20b"}},"$defs":{"a b":{"type":"integer"}}}""", """{"a%20b":"x"}""", "/a%20b")]
    [InlineData("""{"type":"object","properties":{"n":{"$ref":"#/$defs/n"}},"$defs":{"n":{"allOf":[{"$ref":"#/$defs/i"}],"minimum":0},"i":{"type":"integer"}}}""", """{"n":-1.5}""", "/n")]
    public void RecursionThatMovesIntoTheAnswer_AndLocalReferences_AreAccepted_AndApplied(string schema, string answer, string pointer)
    {
        Assert.Null(ResponseSchemas.Check(schema));

        Assert.Contains(pointer, ResponseSchemas.Validate(schema, answer).Select(e => e.Pointer));
    }

    [Theory]
    [InlineData("""{"type":"object","properties":{"x":{"const":1}}}""", """{"x":1e30}""", "/x")]
    [InlineData("""{"type":"object","properties":{"x":{"enum":[1,2]}}}""", """{"x":1e400}""", "/x")]
    [InlineData("""{"type":"object","properties":{"x":{"uniqueItems":true}}}""", """{"x":[1,1e400]}""", "/x/1")]
    public void ANumberTheValidatorCannotCompare_IsAFailingPointer_NotAnException(string schema, string answer, string pointer)
    {
        Assert.Null(ResponseSchemas.Check(schema));

        var errors = ResponseSchemas.Validate(schema, answer);

        Assert.Equal([pointer], errors.Select(e => e.Pointer));
    }

    [Fact]
    public void AStoredSchemaWithAReferenceThatCannotResolve_RefusesTheAnswer_InsteadOfThrowing()
    {
        // Accepted before references were checked at definition, and waiting in a run now.
        const string Stored = """{"type":"object","properties":{"x":{"$ref":"#/$defs/missing"}}}""";

        var errors = ResponseSchemas.Validate(Stored, """{"x":1}""");

        Assert.Contains("cannot be applied", Assert.Single(errors).Message, StringComparison.Ordinal);
    }

    // A schema that loops is refused when it is defined (above); the evaluation guards against loops all the same, for a schema
    // stored before that check and for any loop the check does not see. The library follows a $ref without limit: a loop that
    // does not descend into the value overflowed the stack, which ends the process (a test host crash here; the host in Azure).
    [Theory]
    [InlineData("""{"if":{"type":"object"},"then":{"$ref":"#"}}""", """{}""", "")]
    [InlineData("""{"properties":{"x":{"if":{"type":"string"},"then":{"$ref":"#/properties/x"}}}}""", """{"x":"s"}""", "/x")]
    [InlineData("""{"properties":{"x":{"$ref":"#/$defs/a"}},"$defs":{"a":{"anyOf":[{"type":"integer"},{"$ref":"#/$defs/b"}]},"b":{"allOf":[{"$ref":"#/$defs/a"}]}}}""", """{"x":"no"}""", "/x")]
    [InlineData("""{"$dynamicAnchor":"n","if":{"type":"object"},"then":{"$dynamicRef":"#n"}}""", """{}""", "")]
    public void ASchemaThatLoops_IsRefusedAtDefinition_AndStoredAnyway_RefusesTheAnswerWhereItLoops_WithoutCrashingTheProcess(
        string schema, string answer, string pointer)
    {
        Assert.NotNull(ResponseSchemas.Check(schema));

        var error = Assert.Single(ResponseSchemas.Validate(schema, answer));

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
